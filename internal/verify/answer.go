package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Every Vault answer pam_vault acts on is read here, strictly. encoding/json
// alone would match "Username" to a field tagged "username", keep the last
// of two "username" keys, and ignore an "errors" member beside "data": each
// lets whoever controls the answer (a proxy, a server that is not Vault)
// say what Vault did not. So keys are matched exactly, a key that appears
// twice in one object anywhere in the answer is a failure, and a 200 answer
// with an "errors" member is a failure. Members Vault adds that pam_vault
// does not read (request_id, lease_id, renewable, lease_duration, wrap_info,
// warnings, auth, mount_type, ...) are checked for syntax and skipped.

// maxAnswerDepth bounds the nesting of an answer. Vault's answers nest a few
// levels; the bound keeps a hostile one from costing more than its size.
const maxAnswerDepth = 32

// errDuplicateKey marks an answer that names one key twice in one object.
var errDuplicateKey = errors.New("duplicate key")

// Field is one member of a JSON object to read: the exact key, and where to
// store its value (a pointer json.Unmarshal accepts, such as *string or
// *bool). Absent and null members are both "missing".
type Field struct {
	Key string
	Dst any
}

// DecodeData reads a Vault answer strictly: status must be 200 and body an
// envelope with a data object and no errors member, and each of fields is
// read from the data object by its exact key (see Field). what names the
// answer for error messages, such as "verify answer". The error wraps
// ErrRejected (HTTP 400) or ErrUnavailable. A rejection's text is
// "rejected: Vault says …", which names nothing: the caller, which knows
// what it asked about, names it (named). It is the one way pam_vault reads
// what Vault says.
func DecodeData(status int, body []byte, what string, fields ...Field) error {
	data, err := decodeEnvelope(status, body)
	if err != nil {
		return err
	}
	return decodeFields(data, what+"'s data", fields...)
}

// AnswerErrors reads the errors member of a Vault answer with the strict
// reader DecodeData uses: Vault's messages, none when the member is absent,
// null or an empty list. The error says why body is not an answer Vault
// would send (not one JSON object, a key twice, a key that differs from
// "errors" in case only, errors not a list of strings). Callers that act on
// an answer other than 200 read its errors with it, so that every answer is
// read by the same rules.
func AnswerErrors(body []byte) ([]string, error) {
	var errs json.RawMessage
	if err := readObject(body, map[string]*json.RawMessage{"errors": &errs}); err != nil {
		return nil, err
	}
	if isNull(errs) {
		return nil, nil
	}
	var said []string
	if err := json.Unmarshal(errs, &said); err != nil {
		return nil, errors.New("its errors member is not a list of strings")
	}
	return said, nil
}

// decodeEnvelope classifies an answer by status and returns the raw data
// object of a 200 answer. Every other status, and a 200 answer that is not a
// strictly valid JSON object with a non-null data member and no errors
// member, is an error wrapping ErrRejected (400, Vault's word on the token)
// or ErrUnavailable.
func decodeEnvelope(status int, body []byte) (json.RawMessage, error) {
	var data, errs json.RawMessage
	readErr := readObject(body, map[string]*json.RawMessage{"data": &data, "errors": &errs})
	switch {
	case status == http.StatusOK:
		if readErr != nil {
			return nil, fmt.Errorf("%w: answer is not JSON Vault would send: %w", ErrUnavailable, readErr)
		}
		if errs != nil {
			return nil, fmt.Errorf("%w: answer holds errors beside its data (%s)", ErrUnavailable, vaultErrors(errs, nil, status))
		}
		if isNull(data) {
			return nil, fmt.Errorf("%w: answer has no data", ErrUnavailable)
		}
		return data, nil
	case status == http.StatusBadRequest:
		// Vault's answer about the token itself: unknown or already used.
		return nil, fmt.Errorf("%w: Vault says %s", ErrRejected, vaultErrors(errs, readErr, status))
	case status == http.StatusNotFound || status == http.StatusForbidden:
		// Vault answers an unauthenticated request for a path no engine
		// serves with 403 permission denied.
		return nil, fmt.Errorf("%w: no SSH secrets engine answers at ssh_mount_point in this namespace (%s)", ErrUnavailable, vaultErrors(errs, readErr, status))
	case status == http.StatusServiceUnavailable:
		return nil, fmt.Errorf("%w: Vault is sealed or in maintenance (%s)", ErrUnavailable, vaultErrors(errs, readErr, status))
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, vaultErrors(errs, readErr, status))
	}
}

// decodeFields reads the JSON object obj into fields, by exact key. what
// names obj for error messages, such as "verify answer's data". Every field
// must be present and not null; the error wraps ErrUnavailable.
func decodeFields(obj json.RawMessage, what string, fields ...Field) error {
	raws := make([]json.RawMessage, len(fields))
	want := make(map[string]*json.RawMessage, len(fields))
	for i, f := range fields {
		want[f.Key] = &raws[i]
	}
	if err := readObject(obj, want); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	for i, f := range fields {
		if isNull(raws[i]) {
			return fmt.Errorf("%w: %s.%s is missing", ErrUnavailable, what, f.Key)
		}
		if err := json.Unmarshal(raws[i], f.Dst); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return fmt.Errorf("%w: %s.%s is a JSON %s, not %s", ErrUnavailable, what, f.Key, typeErr.Value, kindOf(f.Dst))
			}
			return fmt.Errorf("%w: %s.%s: %w", ErrUnavailable, what, f.Key, err)
		}
	}
	return nil
}

// kindOf names the JSON value a destination of decodeFields takes.
func kindOf(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *bool:
		return "true or false"
	}
	return fmt.Sprintf("a %T", dst)
}

// isNull reports whether raw is absent or the JSON null.
func isNull(raw json.RawMessage) bool {
	return raw == nil || string(raw) == "null"
}

// readObject reads src, which must be one JSON object and nothing more, and
// stores into want[key] the raw value of the member whose key equals key
// exactly (after JSON unescaping). It fails when src is not valid JSON, is
// not an object, nests deeper than maxAnswerDepth, names one key twice in
// any object it holds, or has a key that differs from one of want's in case
// only.
func readObject(src []byte, want map[string]*json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		key, err := readKey(dec, seen)
		if err != nil {
			return err
		}
		start := dec.InputOffset()
		if err := skipValue(dec, 1); err != nil {
			return err
		}
		dst, ok := want[key]
		if !ok {
			if near := caseTwin(key, want); near != "" {
				return fmt.Errorf("key %s differs from %q in case only", quoteKey(key), near)
			}
			continue
		}
		// The offset before the value still has the colon and spaces that
		// follow the key.
		*dst = bytes.TrimLeft(src[start:dec.InputOffset()], ": \t\r\n")
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntaxErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("not JSON: more after the object")
	}
	return nil
}

// caseTwin returns the key of want that equals key but for case, or "".
func caseTwin(key string, want map[string]*json.RawMessage) string {
	for w := range want {
		if strings.EqualFold(w, key) {
			return w
		}
	}
	return ""
}

// readKey reads the key of the next member of an object, failing if seen
// already holds it.
func readKey(dec *json.Decoder, seen map[string]bool) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", syntaxErr(err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", errors.New("not JSON: an object key is not a string")
	}
	if seen[key] {
		return "", fmt.Errorf("%w %s", errDuplicateKey, quoteKey(key))
	}
	seen[key] = true
	return key, nil
}

// skipValue reads one value at nesting depth, checking every object in it
// for duplicate keys.
func skipValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxAnswerDepth {
		return fmt.Errorf("nested deeper than %d levels", maxAnswerDepth)
	}
	var seen map[string]bool
	if d == '{' {
		seen = map[string]bool{}
	}
	for dec.More() {
		if seen != nil {
			if _, err := readKey(dec, seen); err != nil {
				return err
			}
		}
		if err := skipValue(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return syntaxErr(err)
	}
	return nil
}

// syntaxErr describes an error of the JSON decoder.
func syntaxErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("not JSON: it ends early")
	}
	return fmt.Errorf("not JSON: %w", err)
}

// quoteKey quotes a key for an error message, cut to a length a log line
// can hold.
func quoteKey(key string) string {
	return fmt.Sprintf("%q", truncate(key))
}

// vaultErrors describes a failed answer: its status and, when its errors
// member could be read as a list of strings, Vault's messages.
func vaultErrors(errs json.RawMessage, readErr error, status int) string {
	var list []string
	if readErr != nil || errs == nil || json.Unmarshal(errs, &list) != nil {
		list = nil
	}
	return describeAnswer(status, list)
}

// describeAnswer is how this package's errors name an answer: its status
// and Vault's messages, if any ("HTTP 403: permission denied").
func describeAnswer(status int, said []string) string {
	msg := fmt.Sprintf("HTTP %d", status)
	if len(said) > 0 {
		msg += ": " + truncate(strings.Join(said, "; "))
	}
	return msg
}
