package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"strconv"
	"time"
)

// gzipFile compresses src into dst as `gzip -9n` would, the way Debian
// policy wants manual pages: maximum compression, no file name or time in
// the header, so the same input always gives the same bytes.
func gzipFile(src, dst string, mtime time.Time) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return gzipBytes(b, dst, mtime)
}

// gzipBytes writes b compressed to dst, with mtime as the file's time.
func gzipBytes(b []byte, dst string, mtime time.Time) error {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Chtimes(dst, mtime, mtime)
}

// buildTime is the time stamped on the packages' files and changelog:
// SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func buildTime() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
