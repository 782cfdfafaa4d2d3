package console

import "strconv"

// messages is one language's text, by key.
type messages map[string]string

// text returns the text for key, the English one when the language has
// none, and the key itself when neither has.
func (m messages) text(key string) string {
	if s, ok := m[key]; ok {
		return s
	}
	if s, ok := catalogue["en"][key]; ok {
		return s
	}
	return key
}

func itoa(n int) string { return strconv.Itoa(n) }

// catalogue is the console's text in Korean and English. Keys are the
// same in both; a test checks that every key a template or handler uses
// is in both.
var catalogue = map[string]messages{
	"ko": {
		"nav.skip": "본문으로 건너뛰기", "nav.label": "주 메뉴", "nav.incidents": "사고", "nav.people": "사람", "nav.oncall": "당직",
		"nav.rollcall": "안부 확인", "nav.roster": "명단", "nav.cluster": "클러스터", "nav.audit": "감사 기록", "nav.me": "내 연락처", "nav.logout": "로그아웃",
		"banner.node": "%s 노드가 이 페이지를 제공합니다.", "banner.moved": "%s 노드가 응답하지 않아 %s 노드에서 이어갑니다.",
		"banner.movedjs": "%s 노드가 응답하지 않아 다른 노드로 옮깁니다…", "banner.lost": "연결이 끊겼습니다. 다시 연결하는 중…",
		"login.title": "로그인", "login.intro": "휴대전화 번호나 이메일 주소를 입력하면 일회용 코드를 보내 드립니다.",
		"login.contact": "휴대전화 번호 또는 이메일", "login.send": "코드 받기", "login.dev": "개발 모드: 코드는 모의 휴대전화와 메일함에 도착합니다.",
		"login.bad": "휴대전화 번호나 이메일 주소를 입력하세요.", "login.slow": "요청이 너무 많습니다. 잠시 후 다시 시도하세요.",
		"login.locked": "잘못된 코드가 너무 많습니다. 잠시 후 다시 시도하세요.", "login.unavailable": "지금은 로그인할 수 없습니다. 잠시 후 다시 시도하세요.",
		"code.title": "코드 입력", "code.sent": "코드를 보낸 곳:", "code.label": "6자리 코드", "code.submit": "확인", "code.again": "코드를 다시 받기",
		"code.wrong": "코드가 맞지 않습니다.", "code.expired": "코드가 만료되었거나 이미 사용되었습니다. 새 코드를 받으세요.", "code.bad": "코드를 입력하세요.",
		"resume.title": "이어가는 중", "resume.wait": "다른 노드에서 세션을 이어가는 중입니다…", "resume.noscript": "자바스크립트 없이 이어갈 수 없습니다. 다시 로그인하세요.",
		"incidents.title": "사고 목록", "incidents.id": "사고", "incidents.severity": "심각도", "incidents.messages": "메시지", "incidents.last": "마지막 메시지",
		"incidents.none": "사고가 없습니다.", "incidents.escalating": "진행 중인 에스컬레이션", "escalation.step": "%d단계",
		"sev.critical": "긴급", "sev.warning": "경고", "sev.info": "정보",
		"room.title": "사고 상황실", "room.opened": "%s에 %s 시작", "room.export": "타임라인 내보내기(CSV)", "room.timeline": "타임라인",
		"room.reply": "답장", "room.commander": "지휘관: 대상과 심각도", "room.to": "대상", "room.severity": "심각도", "room.sev.reply": "일반 답장",
		"room.send": "보내기", "room.ack": "확인했습니다", "room.acked": "확인함", "room.rollcalls": "안부 확인", "room.matrix": "전달 현황", "room.empty": "아직 아무것도 없습니다.",
		"kind.message": "메시지", "kind.reply": "답장", "kind.ack": "확인", "kind.rollcall": "안부 확인", "kind.answer": "응답", "kind.escalation": "에스컬레이션",
		"tally.counts": "응답 %d / %d명 · 미응답 %d · 연락 불가 %d", "tally.answer": "내 응답", "tally.none": "안부 확인이 없습니다.",
		"matrix.counts": "아직 연락되지 않은 사람 %d / %d명", "matrix.person": "사람", "matrix.more": "%d / %d명 표시.", "matrix.all": "모두 보기",
		"channel.sms": "문자", "channel.voice": "음성", "channel.email": "이메일", "channel.nats": "NATS",
		"state.reached": "도달", "state.pending": "대기", "state.failed": "실패", "state.stopped": "수신 거부", "state.none": "없음",
		"people.title": "사람과 그룹", "people.name": "이름", "people.roles": "역할", "people.channels": "채널", "people.lang": "언어", "people.groups": "그룹", "people.nogroups": "그룹이 없습니다.",
		"oncall.title": "지금 당직", "oncall.schedule": "일정", "oncall.now": "지금", "oncall.until": "까지", "oncall.next": "다음", "oncall.nobody": "없음",
		"oncall.override": "대체", "oncall.none": "당직 일정이 없습니다.",
		"rollcall.title": "안부 확인 시작", "rollcall.incident": "사고", "rollcall.question": "질문", "rollcall.options": "선택지",
		"rollcall.optionshint": "한 줄에 하나: 숫자, 이름, 긴급이면 끝에 !", "rollcall.reping": "다시 묻는 간격(예: 10m)", "rollcall.start": "시작",
		"roster.title": "명단", "roster.current": "지금 명단: %d명, %d개 그룹.", "roster.file": "명단 파일(YAML)", "roster.text": "또는 붙여넣기",
		"roster.compare": "차이 보기", "roster.diff": "바뀌는 것", "roster.same": "바뀌는 것이 없습니다.", "roster.apply": "적용", "roster.cancel": "취소", "roster.bad": "명단을 읽을 수 없습니다.",
		"cluster.site": "사이트", "cluster.sites": "사이트", "cluster.alive": "살아 있는 노드", "cluster.nodes": "노드들",
		"site.dark": "연락 두절", "site.up": "정상",
		"cluster.watch": "감시 판정", "watch.kind": "종류", "watch.name": "이름", "watch.detail": "대상", "watch.verdict": "판정",
		"watch.since": "바뀐 때", "watch.incident": "사건", "watch.node": "노드", "watch.target": "대상", "watch.heartbeat": "하트비트",
		"watch.down": "중단", "watch.up": "정상", "watch.none": "감시하는 대상이 없습니다.",
		"cluster.title": "클러스터", "cluster.ready": "이 노드는 준비되었습니다.", "cluster.catching": "이 노드는 클러스터를 따라잡는 중입니다.",
		"cluster.node": "노드", "cluster.state": "상태", "cluster.api": "주소", "cluster.behind": "복제 지연(이벤트)", "cluster.pending": "담당 전달",
		"cluster.trusted": "신뢰", "cluster.self": "이 노드", "cluster.store": "저장소", "cluster.bytes": "크기(바이트)", "cluster.free": "빈 공간",
		"cluster.events": "이벤트", "cluster.messages": "메시지", "cluster.channels": "채널과 공급자",
		"cluster.provider": "공급자", "cluster.circuit": "회로 차단기", "cluster.nochannels": "이 노드에는 공급자가 없습니다.",
		"circuit.closed": "정상", "circuit.open": "차단", "circuit.half-open": "시험 중", "circuit.until": "%s에 다시 시도",
		"audit.title": "감사 기록", "audit.at": "시각", "audit.actor": "누가", "audit.action": "무엇을", "audit.target": "대상", "audit.detail": "내용",
		"audit.node": "노드", "audit.address": "주소", "audit.none": "기록이 없습니다.",
		"me.title": "내 연락처", "me.contacts": "연락 방법", "me.channel": "채널", "me.address": "번호 또는 주소", "me.remove": "삭제", "me.none": "연락 방법이 없습니다.",
		"me.change": "연락처 추가·변경", "me.send": "확인 코드 보내기", "me.readonly": "이 노드에서는 연락처를 바꿀 수 없습니다. 관리자에게 문의하세요.",
		"error.title": "오류", "error.session": "로그인이 필요합니다.", "error.forbidden": "이 작업을 할 권한이 없습니다.",
		"error.scoped": "이 링크로는 해당 사고만 볼 수 있습니다. 전체 콘솔은 로그인하세요.", "error.csrf": "요청을 받아들일 수 없습니다. 페이지를 새로 고치세요.",
		"error.link": "링크가 만료되었거나 올바르지 않습니다.", "error.noincident": "그런 사고가 없습니다.", "error.noperson": "API 토큰은 사람으로 행동할 수 없습니다.",
		"error.notfound": "페이지가 없습니다.", "error.slow": "요청이 너무 많습니다. 잠시 후 다시 시도하세요.", "error.store": "지금은 처리할 수 없습니다. 다시 시도하세요.",
		"error.streams": "실시간 연결이 너무 많습니다.", "error.action": "요청을 처리할 수 없습니다:",
		"done.replied": "답장을 보냈습니다.", "done.posted": "메시지를 보냈습니다.", "done.acked": "확인을 기록했습니다.", "done.answered": "응답을 기록했습니다.",
		"done.rollcall": "안부 확인을 시작했습니다.", "done.roster": "명단을 적용했습니다.", "done.contact": "연락처를 바꿨습니다.",
		"drills.title": "훈련", "drills.at": "시작", "drills.by": "시작한 사람·일정", "drills.to": "대상", "drills.people": "인원",
		"drills.reached": "도달", "drills.acked": "확인", "drills.report": "보고서", "drills.html": "보기", "drills.csv": "CSV",
		"drills.schedule": "예약: %s", "drills.gone": "보존 기간이 지나 보고서가 없습니다.", "drills.none": "훈련이 없습니다.",
		"drills.more": "최근 %d건 / 전체 %d건 표시.", "nav.drills": "훈련", "error.nodrill": "그런 훈련이 없습니다.",
	},
	"en": {
		"nav.skip": "Skip to content", "nav.label": "Main", "nav.incidents": "Incidents", "nav.people": "People", "nav.oncall": "On call",
		"nav.rollcall": "Roll-call", "nav.roster": "Roster", "nav.cluster": "Cluster", "nav.audit": "Audit", "nav.me": "My contacts", "nav.logout": "Log out",
		"banner.node": "Served by %s.", "banner.moved": "%s stopped answering; continued on %s.",
		"banner.movedjs": "%s stopped answering; moving to another node…", "banner.lost": "Connection lost; reconnecting…",
		"login.title": "Log in", "login.intro": "Enter your phone number or email address and we send you a one-time code.",
		"login.contact": "Phone number or email", "login.send": "Send me a code", "login.dev": "Dev mode: codes arrive in the simulated phones and mailboxes.",
		"login.bad": "Enter a phone number or an email address.", "login.slow": "Too many requests; try again shortly.",
		"login.locked": "Too many wrong codes; try again later.", "login.unavailable": "Login is not available right now; try again shortly.",
		"code.title": "Enter the code", "code.sent": "We sent a code to:", "code.label": "6-digit code", "code.submit": "Log in", "code.again": "Get a new code",
		"code.wrong": "That code is not right.", "code.expired": "The code has expired or was used; get a new one.", "code.bad": "Enter the code.",
		"resume.title": "Continuing", "resume.wait": "Continuing your session on another node…", "resume.noscript": "This needs JavaScript; log in again instead.",
		"incidents.title": "Incidents", "incidents.id": "Incident", "incidents.severity": "Severity", "incidents.messages": "Messages", "incidents.last": "Last message",
		"incidents.none": "No incidents.", "incidents.escalating": "Escalations in progress", "escalation.step": "step %d",
		"sev.critical": "critical", "sev.warning": "warning", "sev.info": "info",
		"room.title": "Incident room", "room.opened": "Opened %s by %s", "room.export": "Export timeline (CSV)", "room.timeline": "Timeline",
		"room.reply": "Reply", "room.commander": "Commander: audience and severity", "room.to": "Audience", "room.severity": "Severity", "room.sev.reply": "Plain reply",
		"room.send": "Send", "room.ack": "Acknowledge", "room.acked": "Acknowledged", "room.rollcalls": "Roll-calls", "room.matrix": "Who was reached", "room.empty": "Nothing yet.",
		"kind.message": "message", "kind.reply": "reply", "kind.ack": "ack", "kind.rollcall": "roll-call", "kind.answer": "answer", "kind.escalation": "escalation",
		"tally.counts": "%d of %d answered · %d unanswered · %d unreachable", "tally.answer": "My answer", "tally.none": "No roll-calls.",
		"matrix.counts": "%d of %d people not reached yet", "matrix.person": "Person", "matrix.more": "Showing %d of %d.", "matrix.all": "Show all",
		"channel.sms": "SMS", "channel.voice": "Voice", "channel.email": "Email", "channel.nats": "NATS",
		"state.reached": "reached", "state.pending": "pending", "state.failed": "failed", "state.stopped": "stopped", "state.none": "—",
		"people.title": "People and groups", "people.name": "Name", "people.roles": "Roles", "people.channels": "Channels", "people.lang": "Language", "people.groups": "Groups", "people.nogroups": "No groups.",
		"oncall.title": "On call now", "oncall.schedule": "Schedule", "oncall.now": "Now", "oncall.until": "Until", "oncall.next": "Next", "oncall.nobody": "nobody",
		"oncall.override": "override", "oncall.none": "No schedules.",
		"rollcall.title": "Start a roll-call", "rollcall.incident": "Incident", "rollcall.question": "Question", "rollcall.options": "Options",
		"rollcall.optionshint": "One a line: a digit, its label, and ! at the end for an urgent one.", "rollcall.reping": "Ask again every (e.g. 10m)", "rollcall.start": "Start",
		"roster.title": "Roster", "roster.current": "The roster has %d people and %d groups.", "roster.file": "Roster file (YAML)", "roster.text": "or paste it",
		"roster.compare": "Show the changes", "roster.diff": "What changes", "roster.same": "Nothing changes.", "roster.apply": "Apply", "roster.cancel": "Cancel", "roster.bad": "The roster cannot be read.",
		"cluster.site": "Site", "cluster.sites": "Sites", "cluster.alive": "Live nodes", "cluster.nodes": "Nodes",
		"site.dark": "Dark", "site.up": "Up",
		"cluster.watch": "Watch verdicts", "watch.kind": "Kind", "watch.name": "Name", "watch.detail": "Watching", "watch.verdict": "Verdict",
		"watch.since": "Since", "watch.incident": "Incident", "watch.node": "Node", "watch.target": "Target", "watch.heartbeat": "Heartbeat",
		"watch.down": "Down", "watch.up": "Up", "watch.none": "Nothing is watched.",
		"cluster.title": "Cluster", "cluster.ready": "This node is ready.", "cluster.catching": "This node is catching up with the cluster.",
		"cluster.node": "Node", "cluster.state": "State", "cluster.api": "URL", "cluster.behind": "Replication lag (events)", "cluster.pending": "Deliveries owned",
		"cluster.trusted": "Trusted", "cluster.self": "this node", "cluster.store": "Store", "cluster.bytes": "Size (bytes)", "cluster.free": "free",
		"cluster.events": "Events", "cluster.messages": "Messages", "cluster.channels": "Channels and providers",
		"cluster.provider": "Provider", "cluster.circuit": "Circuit breaker", "cluster.nochannels": "This node has no provider.",
		"circuit.closed": "closed", "circuit.open": "open", "circuit.half-open": "half-open", "circuit.until": "next try %s",
		"audit.title": "Audit trail", "audit.at": "At", "audit.actor": "Who", "audit.action": "Action", "audit.target": "Target", "audit.detail": "Detail",
		"audit.node": "Node", "audit.address": "Address", "audit.none": "No entries.",
		"me.title": "My contacts", "me.contacts": "Contact methods", "me.channel": "Channel", "me.address": "Number or address", "me.remove": "Remove", "me.none": "No contact methods.",
		"me.change": "Add or change a contact", "me.send": "Send a code to it", "me.readonly": "Contacts cannot be changed on this node; ask an admin.",
		"error.title": "Error", "error.session": "Please log in.", "error.forbidden": "You may not do this.",
		"error.scoped": "This link opens one incident only; log in for the whole console.", "error.csrf": "The request was refused; reload the page.",
		"error.link": "The link has expired or is not valid.", "error.noincident": "No such incident.", "error.noperson": "An API token acts as no person.",
		"error.notfound": "No such page.", "error.slow": "Too many requests; try again shortly.", "error.store": "This cannot be done right now; try again.",
		"error.streams": "Too many live connections.", "error.action": "The request cannot be done:",
		"done.replied": "Reply sent.", "done.posted": "Message sent.", "done.acked": "Acknowledged.", "done.answered": "Answer recorded.",
		"done.rollcall": "Roll-call started.", "done.roster": "Roster applied.", "done.contact": "Contacts changed.",
		"drills.title": "Drills", "drills.at": "Started", "drills.by": "By or schedule", "drills.to": "Audience", "drills.people": "People",
		"drills.reached": "Reached", "drills.acked": "Acknowledged", "drills.report": "Report", "drills.html": "view", "drills.csv": "CSV",
		"drills.schedule": "schedule %s", "drills.gone": "No report: retention removed it.", "drills.none": "No drills.",
		"drills.more": "Showing the latest %d of %d.", "nav.drills": "Drills", "error.nodrill": "No such drill.",
	},
}
