package logline

import (
	"bytes"
	"strings"
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

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want []string
	}{
		{"a\nb\nc\n", 2, []string{"b", "c"}},
		{"a\nb", 5, []string{"a", "b"}},
		{"only\n\n\n", 1, []string{"only"}},
		{"", 3, []string{""}},
	} {
		if got := Tail(tc.s, tc.n); strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
	if _, err := TailFile("/no/such/log", 3); err == nil {
		t.Error("TailFile of a missing file: no error")
	}
}
