package gen

import "strconv"

// Station names are built, not listed: a stem of two consonant-vowel
// syllables and a suffix. Every stem has four letters, so distinct
// (stem, suffix) pairs give distinct names.
const (
	consonants = "bdfghklmnprstvz"
	vowels     = "aeiou"
)

var suffixes = []string{"", "burg", "ville", " Springs", "ton", " Bay", "stad", " Falls"}

// stationNames returns n distinct, deterministic station names.
func stationNames(n int) []string {
	syllables := len(consonants) * len(vowels)
	combos := syllables * syllables * len(suffixes)
	names := make([]string, n)
	for k := range names {
		// Scramble k (7919 is prime and does not divide combos) so that
		// neighbouring stations do not look alike.
		x := k % combos * 7919 % combos
		a, b, c := x%syllables, x/syllables%syllables, x/(syllables*syllables)
		name := []byte{
			consonants[a/len(vowels)] - 'a' + 'A', vowels[a%len(vowels)],
			consonants[b/len(vowels)], vowels[b%len(vowels)],
		}
		name = append(name, suffixes[c]...)
		if k >= combos {
			name = append(name, ' ')
			name = strconv.AppendInt(name, int64(k/combos)+1, 10)
		}
		names[k] = string(name)
	}
	return names
}
