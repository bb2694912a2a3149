package logline

import (
	"bytes"
	"testing"
)

type rec struct {
	N int    `json:"n"`
	S string `json:"s"`
}

func TestWriteThenParse(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "tag ", rec{7, "x"}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "tag {\"n\":7,\"s\":\"x\"}\n" {
		t.Fatalf("wrote %q", b.String())
	}
	for _, tc := range []struct {
		line    string
		ok, bad bool
		want    rec
	}{
		{b.String(), true, false, rec{7, "x"}},
		{"  " + b.String(), true, false, rec{7, "x"}},
		{"some other output", false, false, rec{}},
		{"tag {not json", true, true, rec{}},
	} {
		var got rec
		ok, err := Parse([]byte(tc.line), "tag ", &got)
		if ok != tc.ok || (err != nil) != tc.bad || got != tc.want {
			t.Errorf("%q: ok=%v err=%v %+v, want ok=%v error=%v %+v", tc.line, ok, err, got, tc.ok, tc.bad, tc.want)
		}
	}
}
