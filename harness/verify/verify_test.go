package verify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/contract"
)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestReferenceHandlerPasses(t *testing.T) {
	rep := Target(context.Background(), serve(t, contract.Handler()))
	if !rep.OK() {
		t.Fatalf("reference handler rejected: %s", rep.Problems())
	}
	if len(rep.Checks) < 20 {
		t.Fatalf("only %d checks ran", len(rep.Checks))
	}
}

// wrap lets a test break one path of the reference server.
func wrap(path string, h http.HandlerFunc) http.Handler {
	ref := contract.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			h(w, r)
			return
		}
		ref.ServeHTTP(w, r)
	})
}

func TestRejects(t *testing.T) {
	cases := []struct {
		name    string
		handler http.Handler
		want    []string // substrings the problem report must contain
	}{
		{
			name: "wrong body",
			handler: wrap("/users/1", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":1,"name":"Bruno Anders"}`))
			}),
			want: []string{"user 1", "body differs from the reference"},
		},
		{
			name: "key order differs",
			handler: wrap("/users/1", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				b := strings.Replace(string(contract.UserJSON(1)), `"id":1,"name":"Bruno Anders"`, `"name":"Bruno Anders","id":1`, 1)
				_, _ = w.Write([]byte(b))
			}),
			want: []string{"user 1", "at byte 2"},
		},
		{
			name: "wrong content type",
			handler: wrap("/json", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write([]byte(`{"message":"Hello, World!"}`))
			}),
			want: []string{"json", `Content-Type "text/plain"`},
		},
		{
			name: "missing 404",
			handler: wrap("/users/10001", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			}),
			want: []string{"unknown user 10001", "status 200, want 404"},
		},
		{
			name: "wrong 422 field",
			handler: wrap("/orders/quote", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = w.Write([]byte(`{"error":"validation failed","field":"order"}`))
			}),
			want: []string{"invalid order (items[1].qty)", `"field":"items[1].qty"`},
		},
		{
			name: "gc stats with a pause figure the BEAM has not",
			handler: wrap("/gc/stats", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"runtime":"beam","live_objects":5,"collections":3,"pauses":3,"pause_p50_ms":0.1,"pause_p99_ms":0.2,"pause_max_ms":0.3,"largest_process_gc_ms":0,"long_gcs":0}`))
			}),
			want: []string{"gc stats", "no stop-the-world pauses"},
		},
		{
			name: "gc stats with an unknown field",
			handler: wrap("/gc/stats", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"runtime":"rust","live_objects":5,"heap":1}`))
			}),
			want: []string{"gc stats", `unknown field "heap"`},
		},
		{
			name: "churn that shares one item",
			handler: wrap("/gc/churn", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"seed":5,"n":2,"items":[{"id":0,"key":"k5","score":5,"tags":["t0","u0"]},{"id":0,"key":"k5","score":5,"tags":["t0","u0"]}]}`))
			}),
			want: []string{"churn ?seed=5&n=2", "body differs"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := Target(context.Background(), serve(t, tc.handler))
			if rep.OK() {
				t.Fatal("a broken target passed verification")
			}
			for _, w := range tc.want {
				if !strings.Contains(rep.Problems(), w) {
					t.Errorf("problems %q do not mention %q", rep.Problems(), w)
				}
			}
		})
	}
}

func TestUnreachableFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if rep := Target(context.Background(), url); rep.OK() {
		t.Fatal("a closed port passed verification")
	}
}
