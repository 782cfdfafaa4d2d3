package relay

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxAutomaticRunes bounds the texts AutomaticText reads: phones' and
// auto-responders' texts are short, and a long text is a person's.
const maxAutomaticRunes = 400

// AutomaticText reports whether a reply's text is what phones and
// auto-responders send by themselves, in Korean or English: a
// driving-mode or do-not-disturb answer ("운전 중입니다", "I'm driving with
// Driving Focus turned on. I'll see your message when I get where I'm
// going."), an away or in-a-meeting answer, or a text that says it is an
// automatic reply ("[자동응답] ...", "Auto-reply: ...").
//
// It errs towards people: a text is automatic only when it starts with an
// automatic-reply marker, or when every sentence in it is such an answer
// and at least one says the person cannot answer now. "운전 중인데 10분
// 후 도착" and "I'm driving, ETA 10 min" say something more and are
// a person's.
func AutomaticText(text string) bool {
	if utf8.RuneCountInString(text) > maxAutomaticRunes {
		return false
	}
	s := normalize(text)
	if s == "" {
		return false
	}
	if autoMarker.MatchString(s) {
		return true
	}
	anchored := false
	for _, sentence := range sentences(s) {
		switch {
		case matchAny(autoAnchors, sentence):
			anchored = true
		case matchAny(autoFillers, sentence):
		default:
			return false
		}
	}
	return anchored
}

// SameText reports whether two replies say the same, ignoring case,
// spacing and the punctuation around them: a repeat.
func SameText(a, b string) bool {
	na, nb := normalize(a), normalize(b)
	return na != "" && na == nb
}

// normalize lowers the case, unifies apostrophes, collapses the white
// space within each line, leaves out blank lines, and trims white space,
// punctuation and symbols (emoji) at both ends.
func normalize(s string) string {
	s = strings.ToLower(strings.ToValidUTF8(s, ""))
	s = strings.NewReplacer("\u2019", "'", "\u2018", "'", "`", "'", "\r", "\n").Replace(s)
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return strings.TrimFunc(strings.Join(out, "\n"), trimmed)
}

func trimmed(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// sentences splits a normalized text at sentence ends, line breaks and
// dashes between words, leaving out empty parts.
func sentences(s string) []string {
	s = dashes.Replace(s)
	parts := strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '.', '!', '?', '\n', '\u3002', '\u00b7', '\u2026', ';':
			return true
		}
		return false
	})
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimFunc(p, trimmed); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var dashes = strings.NewReplacer(" - ", "\n", " \u2013 ", "\n", " \u2014 ", "\n")

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// autoMarker is a text that begins by saying it is an automatic reply,
// in brackets or before a colon.
var autoMarker = regexp.MustCompile(`^[\[(<]?\s*(자동\s?(응답|회신|답장)(\s?메시지)?|부재\s?중|auto[- ]?(reply|response|responder|answer)|automatic (reply|response)|automated (reply|response|message)|out of (the )?office|ooo)\s*[\])>:]`)

// autoAnchors are sentences that say the person cannot answer now.
var autoAnchors = compileAll(
	// English
	`^(sorry,? )?(i'?m|i am) (currently |now |still )?(driving|on the road|behind the wheel)( right now| now| at the moment)?( with .+ (turned )?on)?$`,
	`^(sorry,? )?(i'?m|i am) (currently |now )?(busy|unavailable|not available|away|away from (my )?(phone|desk|keyboard)|in a meeting|in class|on (a )?(vacation|holiday|leave|pto|flight|plane)|out of (the )?office|offline)( right now| now| at the moment| today| this week| until .+)?$`,
	`^(sorry,? )?(i )?(can'?t|cannot|am unable to) (talk|answer|reply|respond|text|take (your )?calls?|get to (my|the) phone)( right)?( now| at the moment)?$`,
	`^(this is an? )?(auto(matic|mated)?[- ]?(reply|response|message|responder|text))$`,
	`^(do not disturb|driving mode|driving focus)( is)?( on| turned on| enabled| active)?$`,
	`^(i have )?notifications (are )?silenced( with .+)?$`,
	// Korean
	`^(지금은?|현재|제가|저는)?\s?(운전|회의|수업|진료|부재|휴가|비행|통화)\s?중(입니다|이에요|이예요|이라서?|이어서|이니|이니까|이므로|입니다만)?(\s.+(없습니다|없어요|어렵습니다|어려워요|못합니다|못해요|못 합니다))?$`,
	`^(지금은?|현재|죄송하지만|죄송합니다만)?\s?(전화|통화|응답|답장|문자|연락)(을|를)?\s?(받을|할|드릴|확인할)\s?수\s?없(습니다|어요|음|는 상태입니다)$`,
	`^(운전|방해\s?금지|운전\s?집중|집중|수면)\s?모드.*$`,
	`^(이 메시지는\s?)?자동\s?(응답|회신|답장)(\s?메시지)?(입니다)?$`,
)

// autoFillers are the sentences that accompany those: a promise to answer
// later, advice for urgent matters, a thanks or apology.
var autoFillers = compileAll(
	// English
	`^(i'?ll|i will) (get back to you|call you( back)?|text you( back)?|reply|respond|answer|see your message|read your message|be back|contact you|reply to your message|respond to your message)( (later|soon|shortly|asap|tomorrow|in a (bit|while|moment)|as soon as .*|when .*|once .*|after .*))?$`,
	`^(if (it'?s|this is) urgent|for (anything )?urgent|in case of (an )?(emergency|urgent)).*$`,
	`^(please )?(call|text|contact|reach) (me )?(later|back later|again later|another time)$`,
	`^sent from my .+$`,
	`^(thanks?( you)?|sorry|regards|best regards|cheers)$`,
	// Korean
	`^(나중에|잠시\s?후에?|곧|이따가?|도착\s?후에?|회의\s?후에?|확인\s?후에?|목적지에\s?도착하면)\s?(다시\s?)?(메시지를?\s?)?(연락|전화|답장|회신|확인)(을|를)?\s?(드리겠습니다|드릴게요|할게요|하겠습니다|주세요|부탁드립니다|해\s?주세요|드리겠습니당)$`,
	`^(급한|긴급한)\s?(용무|일|용건|건|사항)(은|는|이면|이시면|이\s?있으면|이\s?있으시면).*$`,
	`^(죄송합니다|감사합니다|양해\s?부탁드립니다|양해\s?바랍니다|양해해\s?주세요)$`,
)

func compileAll(exprs ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(exprs))
	for i, e := range exprs {
		out[i] = regexp.MustCompile(e)
	}
	return out
}
