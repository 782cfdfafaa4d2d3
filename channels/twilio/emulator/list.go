package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Twilio's page sizes of list resources.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// Page tokens say where a page starts: after (PA) or before (PB) the
// record whose SID follows, in the list's newest-first order. Records
// created meanwhile therefore never shift a page already linked to.
const (
	tokenAfter  = "PA"
	tokenBefore = "PB"
)

// pageJSON is the paging part of Twilio's JSON for a page of a list.
type pageJSON struct {
	End             int     `json:"end"`
	FirstPageURI    string  `json:"first_page_uri"`
	NextPageURI     *string `json:"next_page_uri"`
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	PreviousPageURI *string `json:"previous_page_uri"`
	Start           int     `json:"start"`
	URI             string  `json:"uri"`
}

// messageListJSON is Twilio's JSON for a page of Messages.
type messageListJSON struct {
	pageJSON
	Messages []*messageResource `json:"messages"`
}

// callListJSON is Twilio's JSON for a page of Calls.
type callListJSON struct {
	pageJSON
	Calls []*callResource `json:"calls"`
}

// dateOp is how a record's date compares with a date filter's.
type dateOp int

const (
	onDay      dateOp = iota // on the date
	onOrBefore               // on or before the date
	beforeDay                // before the date
	onOrAfter                // on or after the date
)

// dateFilter is one of Twilio's date filters of a list. Twilio documents
// them as dates (YYYY-MM-DD, in UTC); twilio-go sends RFC 3339 times,
// which count as their UTC date.
type dateFilter struct {
	day time.Time // midnight UTC
	op  dateOp
}

// match reports whether a record dated t (zero when it has no such date
// yet) passes the filter.
func (f dateFilter) match(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	d := midnight(t)
	switch f.op {
	case onOrBefore:
		return !d.After(f.day)
	case beforeDay:
		return d.Before(f.day)
	case onOrAfter:
		return !d.Before(f.day)
	}
	return d.Equal(f.day)
}

func midnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// parseDay reads a date filter's value: a date, or an RFC 3339 time.
func parseDay(v string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return midnight(t), true
	}
	return time.Time{}, false
}

// listQuery is a list request: its filters, in the order Twilio writes
// them into page URIs, and the page it asks for.
type listQuery struct {
	path    string      // the list's path, without query
	filters [][2]string // name and value of each filter given
	size    int
	page    int
	token   string
}

// parseListQuery reads the paging parameters of q and the filters named
// (in the order given); dates names those of them that are date filters
// and how each compares. On a bad value it returns Twilio's 400 answer and
// false.
func parseListQuery(q *request, resource string, names []string, dates map[string]dateOp) (listQuery, map[string]dateFilter, answer, bool) {
	f := q.form
	lq := listQuery{
		path: "/" + APIVersion + "/Accounts/" + q.account + "/" + resource + ".json",
		size: defaultPageSize,
	}
	days := map[string]dateFilter{}
	for _, name := range names {
		if !f.Has(name) {
			continue
		}
		v := f.Get(name)
		lq.filters = append(lq.filters, [2]string{name, v})
		if op, isDate := dates[name]; isDate {
			day, ok := parseDay(v)
			if !ok {
				return listQuery{}, nil, twilioError(http.StatusBadRequest, 20001, "Invalid value for %s: %s", name, v), false
			}
			days[name] = dateFilter{day: day, op: op}
		}
	}
	if v := f.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return listQuery{}, nil, twilioError(http.StatusBadRequest, 20422, "Invalid parameter: PageSize %s", v), false
		}
		lq.size = n
	}
	if v := f.Get("Page"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return listQuery{}, nil, twilioError(http.StatusBadRequest, 20422, "Invalid parameter: Page %s", v), false
		}
		lq.page = int(n)
	}
	lq.token = f.Get("PageToken")
	return lq, days, answer{}, true
}

// pageURI is the URI of page number page of the list, starting at token
// (none when empty).
func (lq listQuery) pageURI(page int, token string) string {
	var b strings.Builder
	b.WriteString(lq.path)
	b.WriteByte('?')
	for _, kv := range lq.filters {
		b.WriteString(url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]) + "&")
	}
	b.WriteString("PageSize=" + strconv.Itoa(lq.size) + "&Page=" + strconv.Itoa(page))
	if token != "" {
		b.WriteString("&PageToken=" + url.QueryEscape(token))
	}
	return b.String()
}

// paginate picks the page lq asks for. sids are the SIDs of all the
// account's records newest first, and matched the indexes into sids of
// those passing the filters, in order. It returns the part of matched the
// page holds and the page's paging JSON; false with the answer when the
// page token is not one the emulator gave.
func (lq listQuery) paginate(sids []string, matched []int) ([]int, pageJSON, answer, bool) {
	from, to := 0, 0
	switch {
	case lq.token == "":
		from = len(matched)
		if lq.page <= len(matched)/lq.size {
			from = lq.page * lq.size
		}
		to = min(from+lq.size, len(matched))
	default:
		kind, sid := lq.token[:min(2, len(lq.token))], lq.token[min(2, len(lq.token)):]
		pos := slices.Index(sids, sid)
		if pos < 0 || (kind != tokenAfter && kind != tokenBefore) {
			return nil, pageJSON{}, twilioError(http.StatusBadRequest, 20422, "Invalid parameter: PageToken %s", lq.token), false
		}
		if kind == tokenAfter {
			from, _ = slices.BinarySearch(matched, pos+1)
			to = min(from+lq.size, len(matched))
		} else {
			to, _ = slices.BinarySearch(matched, pos)
			from = max(0, to-lq.size)
		}
	}
	start := lq.page * lq.size
	p := pageJSON{
		End:          start + max(to-from-1, 0),
		FirstPageURI: lq.pageURI(0, ""),
		Page:         lq.page,
		PageSize:     lq.size,
		Start:        start,
		URI:          lq.pageURI(lq.page, lq.token),
	}
	if to < len(matched) && to > from {
		next := lq.pageURI(lq.page+1, tokenAfter+sids[matched[to-1]])
		p.NextPageURI = &next
	}
	if from > 0 {
		var prev string
		if from < len(matched) {
			prev = lq.pageURI(max(lq.page-1, 0), tokenBefore+sids[matched[from]])
		} else {
			prev = lq.pageURI(max(lq.page-1, 0), "")
		}
		p.PreviousPageURI = &prev
	}
	return matched[from:to], p, answer{}, true
}

// newestFirst returns the indexes of records in Twilio's list order: by
// creation time, newest first, the later accepted first among equals.
func newestFirst(n int, created func(int) time.Time) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = n - 1 - i
	}
	slices.SortStableFunc(order, func(a, b int) int { return created(b).Compare(created(a)) })
	return order
}

// Filters of the Messages list, in the order Twilio writes them.
var (
	messageFilters = []string{"To", "From", "DateSent", "DateSent<", "DateSent>"}
	messageDates   = map[string]dateOp{"DateSent": onDay, "DateSent<": onOrBefore, "DateSent>": onOrAfter}
)

// listMessages answers a read of the Messages list: the account's
// messages, newest first, filtered by To, From and the date they were sent
// (DateSent on the day, DateSent< on or before it, DateSent> on or after
// it), a page at a time.
func (e *Emulator) listMessages(q *request) answer {
	lq, days, bad, ok := parseListQuery(q, "Messages", messageFilters, messageDates)
	if !ok {
		return bad
	}
	f := q.form
	e.mu.Lock()
	defer e.mu.Unlock()
	var own []*Message
	for _, m := range e.messages {
		if m.AccountSID == q.account {
			own = append(own, m)
		}
	}
	order := newestFirst(len(own), func(i int) time.Time { return own[i].Created })
	sids := make([]string, len(order))
	var matched []int
	for i, k := range order {
		m := own[k]
		sids[i] = m.SID
		if f.Has("To") && m.To != f.Get("To") || f.Has("From") && m.From != f.Get("From") {
			continue
		}
		if len(days) > 0 && (m.Sent.IsZero() || !passes(days, m.Sent)) {
			continue
		}
		matched = append(matched, i)
	}
	picked, page, bad, ok := lq.paginate(sids, matched)
	if !ok {
		return bad
	}
	res := &messageListJSON{pageJSON: page, Messages: make([]*messageResource, 0, len(picked))}
	for _, i := range picked {
		res.Messages = append(res.Messages, messageJSON(own[order[i]]))
	}
	return answer{status: http.StatusOK, body: res}
}

// Filters of the Calls list, in the order Twilio writes them.
var (
	callFilters = []string{"Status", "To", "From", "StartTime", "StartTime<", "StartTime>",
		"ParentCallSid", "EndTime", "EndTime<", "EndTime>"}
	callDates = map[string]dateOp{
		"StartTime": onDay, "StartTime<": beforeDay, "StartTime>": onOrAfter,
		"EndTime": onDay, "EndTime<": beforeDay, "EndTime>": onOrAfter,
	}
)

// listCalls answers a read of the Calls list: the account's calls, newest
// first, filtered by Status, To, From, ParentCallSid (the emulator's calls
// have no parent), and the dates they started and ended (StartTime on the
// day, StartTime< before it, StartTime> on or after it; EndTime alike), a
// page at a time.
func (e *Emulator) listCalls(q *request) answer {
	lq, days, bad, ok := parseListQuery(q, "Calls", callFilters, callDates)
	if !ok {
		return bad
	}
	f := q.form
	e.mu.Lock()
	defer e.mu.Unlock()
	var own []*Call
	for _, c := range e.calls {
		if c.AccountSID == q.account {
			own = append(own, c)
		}
	}
	start, end := map[string]dateFilter{}, map[string]dateFilter{}
	for name, df := range days {
		if strings.HasPrefix(name, "StartTime") {
			start[name] = df
		} else {
			end[name] = df
		}
	}
	order := newestFirst(len(own), func(i int) time.Time { return own[i].Created })
	sids := make([]string, len(order))
	var matched []int
	for i, k := range order {
		c := own[k]
		sids[i] = c.SID
		switch {
		case f.Has("Status") && c.Status != f.Get("Status"),
			f.Has("To") && c.To != f.Get("To"),
			f.Has("From") && c.From != f.Get("From"),
			f.Has("ParentCallSid"):
			continue
		}
		var ended time.Time
		if Final(c.Status) {
			ended = c.Updated
		}
		if !passes(start, c.Started) || !passes(end, ended) {
			continue
		}
		matched = append(matched, i)
	}
	picked, page, bad, ok := lq.paginate(sids, matched)
	if !ok {
		return bad
	}
	res := &callListJSON{pageJSON: page, Calls: make([]*callResource, 0, len(picked))}
	for _, i := range picked {
		res.Calls = append(res.Calls, callJSON(own[order[i]]))
	}
	return answer{status: http.StatusOK, body: res}
}

// passes reports whether a record dated t passes every filter.
func passes(filters map[string]dateFilter, t time.Time) bool {
	for _, f := range filters {
		if !f.match(t) {
			return false
		}
	}
	return true
}
