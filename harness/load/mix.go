// Package load drives a target with vegeta at a constant rate and measures
// what it got back.
package load

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/scenario"
)

// Mix turns a scenario into a vegeta Targeter. The sequence of requests is a
// pure function of the request number, so two runs send the same requests
// in the same order, and concurrent workers need no lock.
type Mix struct {
	base   string
	kinds  []kind
	total  uint64
	orders [][]byte
	n      atomic.Uint64
}

type kind struct {
	cum    uint64 // cumulative weight, for picking
	method string
	urls   []string // one per user id, or a single fixed URL
	body   bool
}

var jsonHeader = http.Header{"Content-Type": []string{"application/json"}}

// NewMix prepares every URL up front so the hot path allocates nothing but
// the vegeta.Target it fills.
func NewMix(base string, s *scenario.Scenario) *Mix {
	m := &Mix{orders: contract.SampleOrders()}
	base = strings.TrimRight(base, "/")
	m.base = base
	for _, r := range s.Requests {
		m.total += uint64(r.Weight)
		k := kind{cum: m.total, method: r.Method, body: r.Body == "orders"}
		if strings.Contains(r.Path, "{user_id}") {
			for id := 1; id <= contract.UserCount; id++ {
				k.urls = append(k.urls, base+strings.ReplaceAll(r.Path, "{user_id}", strconv.Itoa(id)))
			}
		} else {
			k.urls = []string{base + r.Path}
		}
		m.kinds = append(m.kinds, k)
	}
	return m
}

// splitmix64 spreads consecutive request numbers into independent draws.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Targeter implements vegeta.Targeter.
func (m *Mix) Targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		i := m.n.Add(1)
		h := splitmix64(i)
		pick := h % m.total
		var k *kind
		for j := range m.kinds {
			if pick < m.kinds[j].cum {
				k = &m.kinds[j]
				break
			}
		}
		t.Method = k.method
		t.URL = k.urls[(h>>20)%uint64(len(k.urls))]
		t.Body, t.Header = nil, nil
		if k.body {
			t.Body = m.orders[i%uint64(len(m.orders))]
			t.Header = jsonHeader
		}
		return nil
	}
}

// Base is the URL the mix's paths are under.
func (m *Mix) Base() string { return m.base }

func (m *Mix) String() string { return fmt.Sprintf("%d request kinds", len(m.kinds)) }
