package demo

import (
	"crypto/sha256"
	"math/rand/v2"
	"strings"
)

// idAlphabet is Meteor's Random.id alphabet (no 0, 1, I, O, U, V, l), which
// Rocket.Chat's 17-character ids are drawn from.
const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

// makeID derives a 17-character Rocket.Chat-style id from a name: the same
// name always gives the same id, whatever order records are generated in, so
// reloading the demo overwrites rather than duplicates.
func makeID(parts ...string) string {
	sum := sha256.Sum256([]byte("rooms-export demo\x00" + strings.Join(parts, "\x00")))
	var b [17]byte
	for i := range b {
		b[i] = idAlphabet[int(sum[i])%len(idAlphabet)]
	}
	return string(b[:])
}

// dice draws numbers from a fixed-seed PCG. It uses only the generator's
// Uint64, whose output the PCG algorithm defines, so the data does not change
// with the Go release.
type dice struct{ src *rand.PCG }

func newDice(seed uint64) *dice { return &dice{src: rand.NewPCG(seed, 0x5eed_0f_de_40)} }

// intn returns a number in [0, n), n > 0.
func (d *dice) intn(n int) int { return int(d.src.Uint64() % uint64(n)) }

// int64n returns a number in [0, n), n > 0.
func (d *dice) int64n(n int64) int64 { return int64(d.src.Uint64() % uint64(n)) }

// chance reports true about once in n draws.
func (d *dice) chance(n int) bool { return d.intn(n) == 0 }

// pick returns one of items.
func pick[T any](d *dice, items []T) T { return items[d.intn(len(items))] }
