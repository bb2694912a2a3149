// Package contract is the executable form of targets/README.md: the exact
// data every reference target must serve. Targets reimplement it in their own
// language; `harness verify` compares their answers with what this package
// computes, so the two must never drift.
package contract

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// UserCount is the size of the in-memory user store every target builds at start-up.
const UserCount = 10000

var (
	firstNames = []string{"Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro",
		"Ines", "Jonas", "Keiko", "Liam", "Maya", "Nikolai", "Olivia", "Pedro"}
	lastNames = []string{"Anders", "Brooks", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes",
		"Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel"}
	tagNames = []string{"admin", "beta", "billing", "eu", "us", "apac", "mobile", "web"}
	streets  = []string{"Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St",
		"Lake View", "Hill Rd", "River Way", "Park Blvd"}
	cities = [][2]string{{"Lisbon", "PT"}, {"Berlin", "DE"}, {"Osaka", "JP"}, {"Toronto", "CA"},
		{"Austin", "US"}, {"Nairobi", "KE"}, {"Oslo", "NO"}, {"Melbourne", "AU"}}
)

// createdEpoch is 2024-01-01T00:00:00Z; user id N was created N*3607 s later.
const createdEpoch = 1704067200

// Address is the nested object of a User; field order is part of the contract.
type Address struct {
	Street   string `json:"street"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

// User is one record of the store. Field order is the serialisation order.
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

// NewUser derives user id (1..UserCount) with the rules of targets/README.md.
func NewUser(id int) User {
	first := firstNames[id%16]
	last := lastNames[(id/16)%16]
	created := time.Unix(int64(createdEpoch+id*3607), 0).UTC()
	city := cities[id%8]
	return User{
		ID:        id,
		Name:      first + " " + last,
		Email:     strings.ToLower(first) + "." + strings.ToLower(last) + strconv.Itoa(id) + "@example.com",
		Active:    userActive(id),
		CreatedAt: created.Format("2006-01-02T15:04:05Z"),
		Tags:      []string{tagNames[id%8], tagNames[(id%8+1+(id/8)%7)%8]},
		Address: Address{
			Street:   strconv.Itoa(id%900+100) + " " + streets[id%10],
			City:     city[0],
			Postcode: fmt.Sprintf("%05d", (id*7919)%100000),
			Country:  city[1],
		},
		Bio: fmt.Sprintf("Member #%d since %d. Writes about distributed systems, reliable APIs and the occasional benchmark.",
			id, created.Year()),
	}
}

// UserJSON is the canonical encoding: keys in struct order, no whitespace,
// nothing escaped (the data is plain ASCII with no HTML characters). Every
// target must produce these exact bytes for GET /users/{id}.
func UserJSON(id int) []byte {
	b, err := json.Marshal(NewUser(id))
	if err != nil {
		panic(fmt.Sprintf("marshal user %d: %v", id, err)) // plain structs cannot fail
	}
	return b
}
