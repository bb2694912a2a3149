package load

import (
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/benchharness/harness/harness/scenario"
)

func TestMixFollowsWeightsAndRepeats(t *testing.T) {
	s := &scenario.Scenario{Name: "api", Requests: []scenario.Request{
		{Name: "user", Weight: 60, Method: "GET", Path: "/users/{user_id}"},
		{Name: "json", Weight: 20, Method: "GET", Path: "/json"},
		{Name: "quote", Weight: 20, Method: "POST", Path: "/orders/quote", Body: "orders"},
	}}
	draw := func() []vegeta.Target {
		tr := NewMix("http://127.0.0.1:1/", s).Targeter()
		out := make([]vegeta.Target, 20000)
		for i := range out {
			if err := tr(&out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	a, b := draw(), draw()
	counts := map[string]int{}
	ids := map[string]bool{}
	for i, tg := range a {
		if tg.URL != b[i].URL || tg.Method != b[i].Method {
			t.Fatalf("request %d differs between two runs: %s vs %s", i, tg.URL, b[i].URL)
		}
		switch {
		case strings.HasPrefix(tg.URL, "http://127.0.0.1:1/users/"):
			counts["user"]++
			ids[tg.URL] = true
		case tg.URL == "http://127.0.0.1:1/json":
			counts["json"]++
		case tg.URL == "http://127.0.0.1:1/orders/quote" && tg.Method == "POST" && len(tg.Body) > 0 && tg.Header.Get("Content-Type") == "application/json":
			counts["quote"]++
		default:
			t.Fatalf("unexpected request %s %s", tg.Method, tg.URL)
		}
	}
	for name, want := range map[string]float64{"user": 0.6, "json": 0.2, "quote": 0.2} {
		if got := float64(counts[name]) / float64(len(a)); got < want-0.02 || got > want+0.02 {
			t.Errorf("%s share %.3f, want %.2f", name, got, want)
		}
	}
	if len(ids) < 5000 {
		t.Errorf("only %d distinct user ids in %d lookups", len(ids), counts["user"])
	}
}
