package engine

import (
	"bufio"
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
//	request: the number of module arguments in decimal, each argument,
//	         then user, token, rhost, service, ssh_connection, to EOF
//	verdict: result as a decimal digit, message, log line
//
// The arguments come first because they are all the helper needs to
// prepare the login (Prepare): the adapter sends them when it starts the
// helper, before the conversation, and the rest once the user answered.
// Both sides cap sizes, so neither can make the other read without bound.
const (
	// RequestFields is the number of fields after the module arguments;
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

// ReadRequest reads one request in the helper wire format. Once it has the
// module's arguments it calls prepare with them, if prepare is not nil, and
// then reads the rest, so that the caller can prepare while the adapter
// still waits for the user.
func ReadRequest(r io.Reader, prepare func(args []string)) (Request, error) {
	limited := &io.LimitedReader{R: r, N: MaxRequest + 1}
	br := bufio.NewReader(limited)
	next := func() (string, error) {
		b, err := br.ReadBytes(0)
		switch {
		case limited.N == 0:
			return "", fmt.Errorf("request is larger than %d bytes", MaxRequest)
		case err == io.EOF && len(b) == 0:
			return "", io.ErrUnexpectedEOF
		case err == io.EOF:
			return "", errors.New("request does not end with a NUL byte")
		case err != nil:
			return "", fmt.Errorf("reading request: %w", err)
		}
		return string(b[:len(b)-1]), nil
	}
	count, err := next()
	if err != nil {
		return Request{}, fmt.Errorf("request's argument count: %w", err)
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 || n > MaxRequest/2 || strconv.Itoa(n) != count {
		return Request{}, fmt.Errorf("request's argument count %q is not a number of arguments", Clip(count, 16))
	}
	var args []string
	for range n {
		a, err := next()
		if err != nil {
			return Request{}, fmt.Errorf("request has fewer than %d arguments: %w", n, err)
		}
		args = append(args, a)
	}
	if prepare != nil {
		prepare(args)
	}
	var fields [RequestFields]string
	for i := range fields {
		if fields[i], err = next(); err != nil {
			return Request{}, fmt.Errorf("request has %d fields after the arguments, want %d: %w", i, RequestFields, err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if limited.N == 0 {
			return Request{}, fmt.Errorf("request is larger than %d bytes", MaxRequest)
		}
		return Request{}, fmt.Errorf("request has more than %d fields after the arguments", RequestFields)
	}
	return Request{
		Args:          args,
		User:          fields[0],
		Token:         fields[1],
		RemoteHost:    fields[2],
		Service:       fields[3],
		SSHConnection: fields[4],
	}, nil
}

// AppendRequest appends req in the helper wire format. The adapter has its own
// encoder in C; this one serves tests and benchmarks of the helper.
func AppendRequest(dst []byte, req Request) []byte {
	dst = strconv.AppendInt(dst, int64(len(req.Args)), 10)
	dst = append(dst, 0)
	for _, s := range append(req.Args, req.User, req.Token, req.RemoteHost, req.Service, req.SSHConnection) {
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
