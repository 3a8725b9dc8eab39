package verify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// realVerifyAnswer is the body Vault 1.21.0 sent for a valid OTP, as
// measured against `vault server -dev` (curl -X PUT …/v1/ssh/verify): every
// member beside data is one pam_vault does not read and must accept, and
// a 200 answer has no errors member.
const realVerifyAnswer = `{"request_id":"7e919646-c952-fe35-8a0c-ab73784323c7","lease_id":"","renewable":false,"lease_duration":0,"data":{"ip":"127.0.0.1","role_name":"otp_key_role","username":"alice"},"wrap_info":null,"warnings":null,"auth":null,"mount_type":""}`

// realEchoAnswer is the body Vault 1.21.0 sent for the echo request.
const realEchoAnswer = `{"request_id":"9a84d12c-0497-6962-f033-b3ed6a4a8c4b","lease_id":"","renewable":false,"lease_duration":0,"data":{"message":"verify-echo-response"},"wrap_info":null,"warnings":null,"auth":null,"mount_type":""}`

// TestReadObject checks the strict reading of a JSON object: exact keys, no
// key twice in any object, nothing after the object.
func TestReadObject(t *testing.T) {
	deep := `{"a":` + strings.Repeat(`[`, maxAnswerDepth) + strings.Repeat(`]`, maxAnswerDepth) + `}`
	deepOK := `{"a":` + strings.Repeat(`[`, maxAnswerDepth-1) + strings.Repeat(`]`, maxAnswerDepth-1) + `}`
	tests := []struct {
		name     string
		src      string
		wantData string // the raw data member; "" for none
		err      string // a part of the error; "" for success
	}{
		{"real verify answer", realVerifyAnswer, `{"ip":"127.0.0.1","role_name":"otp_key_role","username":"alice"}`, ""},
		{"spaces around the value", "{ \"data\" :\n\t{\"x\": 1} \n}", `{"x": 1}`, ""},
		{"no data", `{"request_id":"x"}`, "", ""},
		{"a string value", `{"data":"x"}`, `"x"`, ""},
		{"escaped key", `{"d\u0061ta":{"x":1}}`, `{"x":1}`, ""},
		{"big number elsewhere", `{"n":1e999,"data":{}}`, `{}`, ""},
		{"nesting at the bound", deepOK, "", ""},
		{"duplicate top-level key", `{"data":{},"data":{}}`, "", `duplicate key "data"`},
		{"duplicate key written two ways", `{"data":{},"d\u0061ta":{}}`, "", `duplicate key "data"`},
		{"duplicate key in data", `{"data":{"u":1,"u":2}}`, "", `duplicate key "u"`},
		{"duplicate key deep in an unread member", `{"auth":{"x":[{"k":1,"k":1}]},"data":{}}`, "", `duplicate key "k"`},
		{"same key in sibling objects", `{"a":{"k":1},"b":{"k":2},"data":[{"k":1},{"k":2}]}`, `[{"k":1},{"k":2}]`, ""},
		{"key differing in case", `{"Data":{}}`, "", `"Data" differs from "data" in case only`},
		{"case twin beside the key", `{"data":{},"DATA":{}}`, "", "in case only"},
		{"nested too deep", deep, "", "nested deeper than"},
		{"an array", `[]`, "", "not a JSON object"},
		{"null", `null`, "", "not a JSON object"},
		{"a string", `"data"`, "", "not a JSON object"},
		{"empty", ``, "", "not JSON"},
		{"cut short", `{"data":{"x":`, "", "not JSON"},
		{"trailing garbage", `{"data":{}} x`, "", "not JSON"},
		{"two objects", `{"data":{}}{"data":{}}`, "", "more after the object"},
		{"missing comma", `{"a":1 "data":{}}`, "", "not JSON"},
		{"key not a string", `{1:2}`, "", "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data json.RawMessage
			err := readObject([]byte(tt.src), map[string]*json.RawMessage{"data": &data})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("readObject(%s) = %v, want an error containing %q", tt.src, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readObject(%s): %v", tt.src, err)
			}
			if string(data) != tt.wantData {
				t.Fatalf("data = %s, want %s", data, tt.wantData)
			}
		})
	}
}

// TestRealAnswers checks that the answers the real Vault sends pass.
func TestRealAnswers(t *testing.T) {
	a, err := decodeVerify(200, []byte(realVerifyAnswer))
	if err != nil || a != (Answer{Username: "alice", IP: "127.0.0.1", Role: "otp_key_role"}) {
		t.Errorf("decodeVerify(real answer) = %+v, %v", a, err)
	}
	if err := decodeEcho(200, []byte(realEchoAnswer)); err != nil {
		t.Errorf("decodeEcho(real answer): %v", err)
	}
}

// TestDecodeFields checks the generic reader of a data object, with the
// field types Vault's answers use.
func TestDecodeFields(t *testing.T) {
	type out struct {
		name  string
		valid bool
	}
	tests := []struct {
		obj  string
		want out
		err  string
	}{
		{`{"name":"a","valid":true}`, out{"a", true}, ""},
		{`{"valid":false,"name":"a","extra":[1,2]}`, out{"a", false}, ""},
		{`{"name":"a"}`, out{}, "data.valid is missing"},
		{`{"name":"a","valid":null}`, out{}, "data.valid is missing"},
		{`{"name":"a","valid":"true"}`, out{}, "data.valid is a JSON string, not true or false"},
		{`{"name":1,"valid":true}`, out{}, "data.name is a JSON number, not a string"},
		{`{"name":"a","valid":true,"valid":false}`, out{}, `duplicate key "valid"`},
		{`{"name":"a","Valid":true}`, out{}, "in case only"},
		{`["name","valid"]`, out{}, "not a JSON object"},
	}
	for _, tt := range tests {
		var got out
		err := decodeFields(json.RawMessage(tt.obj), "data", Field{"name", &got.name}, Field{"valid", &got.valid})
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("decodeFields(%s): %v", tt.obj, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("decodeFields(%s) = %+v, want %+v", tt.obj, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("decodeFields(%s) = %v, want an error containing %q", tt.obj, err, tt.err)
		case tt.err != "":
			errKind(t, err)
		}
	}
}

// TestAnswerErrors checks the strict reading of an answer's errors member,
// which callers use for answers other than 200.
func TestAnswerErrors(t *testing.T) {
	tests := []struct {
		body string
		want []string
		err  string
	}{
		{`{"errors":["permission denied"]}`, []string{"permission denied"}, ""},
		{`{"errors":["a","b"],"request_id":"x"}`, []string{"a", "b"}, ""},
		{`{"errors":[]}`, nil, ""},
		{`{"errors":null}`, nil, ""},
		{`{}`, nil, ""},
		{`{"errors":[],"errors":["no handler for route"]}`, nil, `duplicate key "errors"`},
		{`{"Errors":["x"]}`, nil, "in case only"},
		{`{"errors":"permission denied"}`, nil, "not a list of strings"},
		{`{"errors":[1]}`, nil, "not a list of strings"},
		{`<html>502</html>`, nil, "not JSON"},
		{``, nil, "not JSON"},
	}
	for _, tt := range tests {
		got, err := AnswerErrors([]byte(tt.body))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("AnswerErrors(%s): %v", tt.body, err)
		case tt.err == "" && strings.Join(got, "|") != strings.Join(tt.want, "|"):
			t.Errorf("AnswerErrors(%s) = %q, want %q", tt.body, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("AnswerErrors(%s) = %q, %v; want an error containing %q", tt.body, got, err, tt.err)
		}
	}
}

// FuzzReadObject compares readObject with encoding/json: whatever it
// accepts, encoding/json reads as the same object, and the member it
// returns is the one encoding/json finds under that exact key.
func FuzzReadObject(f *testing.F) {
	for _, seed := range []string{
		realVerifyAnswer,
		`{"data":{"u":1,"u":2}}`,
		`{"Data":{}}`,
		`{"data":{}} x`,
		`{"d\u0061ta":[{"k":1},{"k":2}]}`,
		`{"errors":["OTP not found"]}`,
		`{"data":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var data json.RawMessage
		if err := readObject(src, map[string]*json.RawMessage{"data": &data}); err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(src, &m); err != nil {
			t.Fatalf("readObject accepted %q, which encoding/json refuses: %v", src, err)
		}
		want, ok := m["data"]
		if ok != (data != nil) {
			t.Fatalf("readObject(%q): data present = %v, encoding/json says %v", src, data != nil, ok)
		}
		if !ok {
			return
		}
		var a, b bytes.Buffer
		if json.Compact(&a, data) != nil || json.Compact(&b, want) != nil || a.String() != b.String() {
			t.Fatalf("readObject(%q): data = %s, encoding/json reads %s", src, data, want)
		}
	})
}
