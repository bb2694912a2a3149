package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// userCount is the size of the store the contract fixes.
const userCount = 10000

var (
	firstNames = [...]string{"Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro",
		"Ines", "Jonas", "Keiko", "Liam", "Maya", "Nikolai", "Olivia", "Pedro"}
	lastNames = [...]string{"Anders", "Brooks", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes",
		"Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel"}
	tagNames = [...]string{"admin", "beta", "billing", "eu", "us", "apac", "mobile", "web"}
	streets  = [...]string{"Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St",
		"Lake View", "Hill Rd", "River Way", "Park Blvd"}
	cities = [...]struct{ city, country string }{{"Lisbon", "PT"}, {"Berlin", "DE"}, {"Osaka", "JP"},
		{"Toronto", "CA"}, {"Austin", "US"}, {"Nairobi", "KE"}, {"Oslo", "NO"}, {"Melbourne", "AU"}}
)

// createdEpoch is 2024-01-01T00:00:00Z; user id N was created N*3607 s later.
const createdEpoch = 1704067200

// Address and User are serialised by encoding/json in field order, which is
// the key order the contract requires.
type Address struct {
	Street   string `json:"street"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

type User struct {
	ID        int      `json:"id"`
	Name      string   `json:"name"`
	Email     string   `json:"email"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	Tags      []string `json:"tags"`
	Address   Address  `json:"address"`
	Bio       string   `json:"bio"`
}

// newUser derives user id (1..userCount) by the rules of targets/README.md.
func newUser(id int) User {
	first, last := firstNames[id%16], lastNames[(id/16)%16]
	created := time.Unix(int64(createdEpoch+id*3607), 0).UTC()
	city := cities[id%8]
	return User{
		ID:        id,
		Name:      first + " " + last,
		Email:     strings.ToLower(first) + "." + strings.ToLower(last) + strconv.Itoa(id) + "@example.com",
		Active:    id%7 != 0,
		CreatedAt: created.Format("2006-01-02T15:04:05Z"),
		Tags:      []string{tagNames[id%8], tagNames[(id%8+1+(id/8)%7)%8]},
		Address: Address{
			Street:   strconv.Itoa(id%900+100) + " " + streets[id%10],
			City:     city.city,
			Postcode: fmt.Sprintf("%05d", (id*7919)%100000),
			Country:  city.country,
		},
		Bio: fmt.Sprintf("Member #%d since %d. Writes about distributed systems, reliable APIs and the occasional benchmark.",
			id, created.Year()),
	}
}

// store holds every user at index id; index 0 is unused so a lookup needs no
// arithmetic.
type store []User

func newStore() store {
	s := make(store, userCount+1)
	for id := 1; id <= userCount; id++ {
		s[id] = newUser(id)
	}
	return s
}

// lookup parses a path segment as a decimal id and returns its user.
func (s store) lookup(raw string) (*User, bool) {
	id, ok := parseID(raw)
	if !ok {
		return nil, false
	}
	return &s[id], true
}

// parseID reads a path segment as a user id in 1..userCount. Only ASCII
// digits are accepted (strconv.Atoi would also take a sign), and the scan
// stops as soon as the value leaves the range, so no input can overflow.
// The /db/ routes use it too: a bad id is a 404 without a query.
func parseID(raw string) (int, bool) {
	if raw == "" {
		return 0, false
	}
	id := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		id = id*10 + int(c-'0')
		if id > userCount {
			return 0, false
		}
	}
	if id < 1 {
		return 0, false
	}
	return id, true
}
