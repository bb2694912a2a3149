package contract

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Handler is the contract as a plain net/http server. It is the reference
// the verifier is tested against and the stand-in target of the harness's
// own tests; it is not one of the measured targets.
func Handler() http.Handler {
	users := make([]User, UserCount+1)
	for id := 1; id <= UserCount; id++ {
		users[id] = NewUser(id)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Message string `json:"message"`
		}{"Hello, World!"})
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id < 1 || id > UserCount || strings.HasPrefix(r.PathValue("id"), "+") {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		writeJSON(w, http.StatusOK, users[id])
	})
	mux.HandleFunc("GET /compute/rank", func(w http.ResponseWriter, r *http.Request) {
		p, err := ParseComputeParams(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "validation failed", "field": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, Compute(p))
	})
	mux.HandleFunc("GET /gc/churn", func(w http.ResponseWriter, r *http.Request) {
		p, err := ParseChurnParams(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "validation failed", "field": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, Churn(p))
	})
	// The reference holds no live heap and reports no collector of its own.
	mux.HandleFunc("GET /gc/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, GCStats{Runtime: GCRuntimeNone})
	})
	mux.HandleFunc("POST /gc/reset", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /orders/quote", func(w http.ResponseWriter, r *http.Request) {
		var generic any
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&generic); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid json"})
			return
		}
		if field := ValidateQuote(generic); field != "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "validation failed", "field": field})
			return
		}
		var req QuoteRequest
		b, _ := json.Marshal(generic)
		_ = json.Unmarshal(b, &req)
		writeJSON(w, http.StatusOK, ComputeQuote(req))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
