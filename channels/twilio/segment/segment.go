// Package segment counts the parts an SMS body is split into, the way
// carriers and Twilio do: GSM-7 when every character is in the GSM 03.38
// default alphabet or its extension table, UCS-2 otherwise.
//
// A single GSM-7 message holds 160 septets, a part of a longer one 153
// (the user data header takes the rest); extension characters such as "€"
// and "{" take two septets and are never split across parts. A single UCS-2
// message holds 70 UTF-16 code units, a part of a longer one 67; characters
// outside the Basic Multilingual Plane (most emoji) take two units and are
// never split either. Hangul is outside GSM-7, so Korean text is UCS-2.
package segment

import "strings"

// Encoding is the character encoding an SMS body is sent in.
type Encoding string

// Encodings.
const (
	GSM7 Encoding = "GSM-7"
	UCS2 Encoding = "UCS-2"
)

// Part sizes, in septets for GSM-7 and UTF-16 code units for UCS-2.
const (
	GSM7Single = 160
	GSM7Part   = 153
	UCS2Single = 70
	UCS2Part   = 67
)

// gsm7Basic is the GSM 03.38 default alphabet, without the escape code.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension holds the characters sent as an escape plus one septet.
const gsm7Extension = "\f^{}\\[~]|€"

// Info describes how a body is sent.
type Info struct {
	Encoding Encoding
	// Units is the body's length in septets (GSM-7) or UTF-16 code units
	// (UCS-2).
	Units int
	// Segments is the number of SMS parts; an empty body still takes one.
	Segments int
}

// Count reports the encoding, length and number of parts of body.
func Count(body string) Info {
	if costs, ok := gsm7Costs(body); ok {
		return Info{Encoding: GSM7, Units: sum(costs), Segments: pack(costs, GSM7Single, GSM7Part)}
	}
	costs := ucs2Costs(body)
	return Info{Encoding: UCS2, Units: sum(costs), Segments: pack(costs, UCS2Single, UCS2Part)}
}

// GSM7Cost returns how many septets r takes in GSM-7 (1 or 2), or 0 when r
// cannot be sent in GSM-7.
func GSM7Cost(r rune) int {
	switch {
	case strings.ContainsRune(gsm7Basic, r):
		return 1
	case strings.ContainsRune(gsm7Extension, r):
		return 2
	}
	return 0
}

func gsm7Costs(body string) ([]int, bool) {
	costs := make([]int, 0, len(body))
	for _, r := range body {
		c := GSM7Cost(r)
		if c == 0 {
			return nil, false
		}
		costs = append(costs, c)
	}
	return costs, true
}

func ucs2Costs(body string) []int {
	costs := make([]int, 0, len(body))
	for _, r := range body {
		if r > 0xFFFF {
			costs = append(costs, 2) // a surrogate pair
		} else {
			costs = append(costs, 1)
		}
	}
	return costs
}

// pack counts the parts needed for characters of the given costs when
// no character may straddle two parts.
func pack(costs []int, single, part int) int {
	total := sum(costs)
	if total <= single {
		return 1
	}
	parts, used := 1, 0
	for _, c := range costs {
		if used+c > part {
			parts++
			used = 0
		}
		used += c
	}
	return parts
}

func sum(costs []int) int {
	n := 0
	for _, c := range costs {
		n += c
	}
	return n
}
