package node

import (
	"fmt"
	"sync"
	"time"
)

// answersPerHour bounds the automatic answers one person gets.
const answersPerHour = 6

type answerKind int

const (
	answerUnknown answerKind = iota
	answerHelp
	answerNoIncident
	answerAcked
	answerStopped
	answerStarted
	answerHeld
	answerRollCall
)

// answers are the automatic answers, Korean first.
var answers = map[string]map[answerKind]string{
	"ko": {
		answerUnknown:    "relay 비상 연락망입니다. 이 번호는 명단에 없어 메시지를 전달하지 않았습니다. 관리자에게 문의하세요.",
		answerHelp:       "relay 비상 연락망: 답장은 사고 참여자 모두에게 전달됩니다. 1 또는 ACK = 확인, ACK <코드> = 해당 사고 확인, #사고ID <내용> = 사고 지정, STOP = 수신 중지.",
		answerNoIncident: "진행 중인 사고가 없어 전달하지 않았습니다. #사고ID 로 시작해 보내 주세요.",
		answerAcked:      "확인했습니다: %s",
		answerStopped:    "relay 문자 수신을 중지했습니다. 비상 시에는 다른 채널로 연락합니다. 다시 받으려면 START.",
		answerStarted:    "relay 문자 수신을 다시 시작했습니다.",
		answerHeld:       "답장이 잦아 잠시 모아 두었다가 한꺼번에 전달합니다.",
		answerRollCall:   "응답을 기록했습니다: %s",
	},
	"en": {
		answerUnknown:    "This is the relay emergency line. Your number is not on the roster, so nothing was passed on. Please contact your administrator.",
		answerHelp:       "relay emergency line: replies reach everyone in the incident. 1 or ACK = acknowledge, ACK <code> = acknowledge that incident, #incident-id <text> = choose the incident, STOP = stop texts.",
		answerNoIncident: "No open incident, so nothing was passed on. Start your text with #incident-id.",
		answerAcked:      "Acknowledged: %s",
		answerStopped:    "You will get no more relay texts. In an emergency you are reached on other channels. Reply START to get them again.",
		answerStarted:    "relay texts are on again.",
		answerHeld:       "You are replying faster than relay passes replies on: the next ones are held and sent on together shortly.",
		answerRollCall:   "Answer recorded: %s",
	},
}

func answerText(lang string, k answerKind, args ...any) string {
	texts, ok := answers[lang]
	if !ok {
		texts = answers["ko"]
	}
	if len(args) > 0 {
		return fmt.Sprintf(texts[k], args...)
	}
	return texts[k]
}

// answerLimit lets an automatic answer to a key go at most once per
// interval. It forgets keys whose interval passed, so it stays small.
type answerLimit struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *answerLimit) allow(key string, every time.Duration, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if len(l.last) > 10_000 {
		for k, t := range l.last {
			if now.Sub(t) > time.Hour {
				delete(l.last, k)
			}
		}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < every {
		return false
	}
	l.last[key] = now
	return true
}
