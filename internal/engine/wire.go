package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The helper wire format, spoken between the C adapter and
// `pam-vault-check helper` over the helper's standard input and output.
// Every field is a string terminated by a NUL byte, which no C string holds.
//
//	request: user, token, rhost, service, ssh_connection, then each module
//	         argument, to EOF
//	verdict: result as a decimal digit, message, log line
//
// Both sides cap sizes, so neither can make the other read without bound.
const (
	// RequestFields is the number of fields before the module arguments;
	// PAM_VAULT_REQUEST_FIELDS in cgo/pam_vault_engine.h is the same.
	RequestFields = 5
	// MaxRequest bounds a request on the wire.
	MaxRequest = 64 << 10
	// MaxMessage and MaxLog bound the verdict's strings; they match the
	// buffers of struct pam_vault_verdict in cgo/pam_vault_engine.h,
	// which hold one byte more for the terminating NUL.
	MaxMessage = 255
	MaxLog     = 1023
)

// ReadRequest reads one request in the helper wire format.
func ReadRequest(r io.Reader) (Request, error) {
	buf, err := io.ReadAll(io.LimitReader(r, MaxRequest+1))
	if err != nil {
		return Request{}, fmt.Errorf("reading request: %w", err)
	}
	if len(buf) > MaxRequest {
		return Request{}, fmt.Errorf("request is larger than %d bytes", MaxRequest)
	}
	if len(buf) == 0 || buf[len(buf)-1] != 0 {
		return Request{}, errors.New("request does not end with a NUL byte")
	}
	fields := bytes.Split(buf[:len(buf)-1], []byte{0})
	if len(fields) < RequestFields {
		return Request{}, fmt.Errorf("request has %d fields, want at least %d", len(fields), RequestFields)
	}
	req := Request{
		User:          string(fields[0]),
		Token:         string(fields[1]),
		RemoteHost:    string(fields[2]),
		Service:       string(fields[3]),
		SSHConnection: string(fields[4]),
	}
	for _, a := range fields[RequestFields:] {
		req.Args = append(req.Args, string(a))
	}
	return req, nil
}

// AppendRequest appends req in the helper wire format. The adapter has its own
// encoder in C; this one serves tests and benchmarks of the helper.
func AppendRequest(dst []byte, req Request) []byte {
	for _, s := range append([]string{req.User, req.Token, req.RemoteHost, req.Service, req.SSHConnection}, req.Args...) {
		dst = append(dst, s...)
		dst = append(dst, 0)
	}
	return dst
}

// AppendVerdict appends v in the helper wire format, with its strings cut to
// the adapter's buffer sizes and cleared of NUL bytes.
func AppendVerdict(dst []byte, v Verdict) []byte {
	dst = strconv.AppendInt(dst, int64(v.Result), 10)
	dst = append(dst, 0)
	dst = append(dst, Clip(v.Message, MaxMessage)...)
	dst = append(dst, 0)
	dst = append(dst, Clip(v.Log, MaxLog)...)
	return append(dst, 0)
}

// ReadVerdict parses a verdict in the helper wire format.
func ReadVerdict(buf []byte) (Verdict, error) {
	if len(buf) == 0 || buf[len(buf)-1] != 0 {
		return Verdict{}, errors.New("verdict does not end with a NUL byte")
	}
	fields := bytes.Split(buf[:len(buf)-1], []byte{0})
	if len(fields) != 3 {
		return Verdict{}, fmt.Errorf("verdict has %d fields, want 3", len(fields))
	}
	// As strict as the adapter's decode_verdict: one digit, and strings
	// that fit its buffers.
	r := fields[0]
	if len(r) != 1 || r[0] < '0'+byte(Success) || r[0] > '0'+byte(MaxResult) {
		return Verdict{}, fmt.Errorf("verdict result %q is not one of 0-%d", r, MaxResult)
	}
	if len(fields[1]) > MaxMessage || len(fields[2]) > MaxLog {
		return Verdict{}, fmt.Errorf("verdict message or log is longer than %d or %d bytes", MaxMessage, MaxLog)
	}
	return Verdict{Result: Result(r[0] - '0'), Message: string(fields[1]), Log: string(fields[2])}, nil
}

// Clip returns s without NUL bytes, cut to at most max bytes on a UTF-8
// boundary, so that it fits a C buffer of max+1 bytes.
func Clip(s string, max int) string {
	s = string(bytes.ReplaceAll([]byte(s), []byte{0}, nil))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
