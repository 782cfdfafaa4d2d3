// Package rostercsv builds a roster from a CSV export of an HR system
// (comma-separated, or tab- or semicolon-separated as spreadsheets also
// export): one person a row, columns named on the first line (id, name, phone,
// email, lang, groups, roles, or their common English and Korean names
// such as 이름, 휴대폰, 이메일 and 부서). Phone numbers in local form are
// made E.164 for a given country; ids are made from email addresses when
// absent. Every bad row is reported with its line and column, and a file
// with any problem gives no roster.
package rostercsv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/encoding/korean"

	"github.com/oob-relay/relay/relay"
)

// MaxBytes bounds the CSV file: 100,000 people of about 300 bytes each.
const MaxBytes = 32 << 20

// maxPhoneBytes bounds a phone cell: 15 digits with room for spaces,
// dashes and brackets.
const maxPhoneBytes = 32

// maxProblems bounds how many problems an Error lists; the rest are
// counted.
const maxProblems = 100

// Encodings a file may come in.
const (
	UTF8  = "UTF-8"
	EUCKR = "EUC-KR"
)

// Options says how to read the file.
type Options struct {
	// Country is the ISO 3166 region code (such as "KR") of phone
	// numbers written in local form; empty means every number must be
	// international (+82 10-1234-5678).
	Country string
	// Into is the roster the rows are merged into: a row whose id is on
	// it updates that person with the row's non-empty cells, any other
	// row adds a person; people and groups the file does not name stay
	// as they are. A group cell may name a group of Into by its name.
	// Nil means a new roster of the rows alone.
	Into *relay.Roster
}

// Result is the roster built and what went into it.
type Result struct {
	Roster *relay.Roster
	// Encoding is the file's encoding, UTF8 or EUCKR.
	Encoding string
	// Added and Updated count the people the rows added and updated.
	Added, Updated int
}

// Problem is one thing wrong with the file. Line is the file's line,
// from 1; Column names the column as the header wrote it, with its
// number, or is empty when the problem is the row's.
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	switch {
	case p.Line == 0:
		return p.Message
	case p.Column == "":
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d, column %s: %s", p.Line, p.Column, p.Message)
}

// Error lists every problem found, up to 100, and how many more there
// were.
type Error struct {
	Problems []Problem
	More     int
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	if e.More > 0 {
		lines = append(lines, fmt.Sprintf("and %d more problems", e.More))
	}
	return strings.Join(lines, "\n")
}

// Import reads a CSV export and builds a roster from it, merged into
// opts.Into when set. The roster is validated as the API would. Any
// problem gives an *Error listing them all, and no roster.
func Import(r io.Reader, opts Options) (*Result, error) {
	if opts.Country != "" && !phonenumbers.GetSupportedRegions()[strings.ToUpper(opts.Country)] {
		return nil, fmt.Errorf("country %q is not an ISO 3166 region code such as KR or US", opts.Country)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read CSV: %w", err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("the file is larger than %d MiB", MaxBytes>>20)
	}
	text, enc, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	im := &importer{opts: opts, country: strings.ToUpper(opts.Country)}
	im.read(text)
	if len(im.problems) == 0 {
		im.build()
	}
	if len(im.problems) > 0 {
		e := &Error{Problems: im.problems}
		if n := im.count - len(im.problems); n > 0 {
			e.More = n
		}
		return nil, e
	}
	return &Result{Roster: im.out, Encoding: enc, Added: im.added, Updated: im.updated}, nil
}

// decodeText returns the file as UTF-8 text without a byte order mark,
// and the encoding it was in.
func decodeText(data []byte) (string, string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		return "", "", errors.New("the file is UTF-16 (a spreadsheet's \"Unicode text\"); save it as \"CSV UTF-8\"")
	}
	if utf8.Valid(data) {
		return string(data), UTF8, nil
	}
	// Korean spreadsheets save CSV in CP949, the superset of EUC-KR that
	// x/text's EUCKR decodes. An invalid sequence decodes as U+FFFD,
	// which neither encoding can hold otherwise.
	out, err := korean.EUCKR.NewDecoder().Bytes(data)
	if err == nil && !bytes.ContainsRune(out, utf8.RuneError) {
		return string(out), EUCKR, nil
	}
	line := 1 + bytes.Count(data[:firstInvalid(data)], []byte("\n"))
	return "", "", fmt.Errorf("line %d is neither UTF-8 nor EUC-KR (CP949) text; save the file as \"CSV UTF-8\"", line)
}

// delimiter is what separates the columns: a comma, unless the first line
// has none and has tabs (a spreadsheet's "Text (Tab delimited)" export)
// or semicolons (CSV from a spreadsheet whose locale writes decimal
// commas).
func delimiter(text string) rune {
	first, _, _ := strings.Cut(text, "\n")
	switch {
	case strings.Contains(first, ","):
		return ','
	case strings.Contains(first, "\t"):
		return '\t'
	case strings.Contains(first, ";"):
		return ';'
	}
	return ','
}

// firstInvalid is the offset of the first byte that is not UTF-8.
func firstInvalid(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// row is one person read from the file.
type row struct {
	line    int
	person  relay.Person
	derived bool // the id was made from the email
	groups  []string
}

type importer struct {
	opts     Options
	country  string
	header   []string       // as written
	cols     map[string]int // column → index
	rows     []row
	problems []Problem
	count    int
	out      *relay.Roster
	added    int
	updated  int
}

func (im *importer) problem(line int, col, format string, args ...any) {
	im.count++
	if len(im.problems) < maxProblems {
		im.problems = append(im.problems, Problem{line, col, fmt.Sprintf(format, args...)})
	}
}

// colName names column i for a problem: its number and its header.
func (im *importer) colName(i int) string {
	return fmt.Sprintf("%d (%s)", i+1, relay.Printable(im.header[i]))
}

func (im *importer) read(text string) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = delimiter(text)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		im.problem(0, "", "the file is empty: its first line must name the columns (%s)", strings.Join(columnOrder, ", "))
		return
	}
	if err != nil {
		im.csvProblem(err)
		return
	}
	if !im.readHeader(header) {
		return
	}
	ids := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			im.csvProblem(err)
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			return
		}
		line, _ := cr.FieldPos(0)
		if len(im.rows) >= relay.MaxPeople {
			im.problem(line, "", "the file has more than %d rows; a roster holds at most %d people", relay.MaxPeople, relay.MaxPeople)
			return
		}
		if blank(rec) {
			continue
		}
		rw, ok := im.readRow(line, rec)
		if id := rw.person.ID; id != "" {
			if first, dup := ids[id]; dup {
				how := ""
				if rw.derived {
					how = " (made from the email)"
				}
				im.problem(line, "", "id %q%s is also on line %d", id, how, first)
				ok = false
			} else {
				ids[id] = line
			}
		}
		if ok {
			im.rows = append(im.rows, rw)
		}
	}
	if len(im.rows) == 0 && len(im.problems) == 0 {
		im.problem(0, "", "the file has no rows below its header")
	}
}

func (im *importer) csvProblem(err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			im.problem(pe.StartLine, "", "has a different number of cells than the header's %d", len(im.header))
			return
		}
		im.problem(pe.Line, "", "is not CSV: %v (column %d)", pe.Err, pe.Column)
		return
	}
	im.problem(0, "", "read CSV: %v", err)
}

// readHeader maps the columns; a column that names nothing known is a
// problem, but the rows are still read, so that every problem shows at
// once. It returns false when no row can be read.
func (im *importer) readHeader(header []string) bool {
	im.header = slices.Clone(header)
	im.cols = map[string]int{}
	for i, h := range header {
		if err := relay.CheckLine("header", h); err != nil {
			im.problem(1, fmt.Sprintf("%d", i+1), "%s", err.(*relay.FieldError).Message)
			continue
		}
		c := column(h)
		switch {
		case strings.TrimSpace(h) == "":
			im.problem(1, fmt.Sprintf("%d", i+1), "has no name; name it or remove the column (known: %s)", strings.Join(columnOrder, ", "))
		case c == "":
			im.problem(1, im.colName(i), "unknown column; the known columns are %s (or 이름, 휴대폰, 전화번호, 이메일, 부서, 사번, 역할)", strings.Join(columnOrder, ", "))
		default:
			if j, dup := im.cols[c]; dup {
				im.problem(1, im.colName(i), "names %s, as column %s does", c, im.colName(j))
				continue
			}
			im.cols[c] = i
		}
	}
	_, hasID := im.cols[colID]
	_, hasEmail := im.cols[colEmail]
	if !hasID && !hasEmail {
		im.problem(1, "", "has neither an id nor an email column; ids are made from emails when there is no id")
		return false
	}
	return true
}

func blank(rec []string) bool {
	for _, s := range rec {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// readRow reads one row; ok is false when it has a problem, each one
// reported.
func (im *importer) readRow(line int, rec []string) (rw row, ok bool) {
	rw.line = line
	ok = true
	bad := func(col string, format string, args ...any) {
		im.problem(line, im.colName(im.cols[col]), format, args...)
		ok = false
	}
	cell := func(col string) string {
		if i, has := im.cols[col]; has && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for _, col := range columnOrder {
		if err := relay.CheckLine(col, cell(col)); err != nil {
			bad(col, "%s", err.(*relay.FieldError).Message)
		}
	}
	if !ok {
		return rw, false
	}
	p := &rw.person
	if p.Name = cell(colName); len(p.Name) > relay.MaxNameBytes {
		bad(colName, "is %d bytes; the limit is %d", len(p.Name), relay.MaxNameBytes)
	}
	if p.Email = cell(colEmail); p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || len(p.Email) > 254 {
			bad(colEmail, "%q is not a plain email address such as kim@example.com", short(p.Email))
		}
	}
	switch id := strings.ToLower(cell(colID)); {
	case id != "" && !relay.ValidID(id):
		bad(colID, "%q is not an id: 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'", short(id))
	case id != "":
		p.ID = id
	case p.Email == "":
		im.problem(line, "", "has no id and no email to make one from")
		ok = false
	case ok:
		local := p.Email[:strings.LastIndexByte(p.Email, '@')]
		if p.ID = idFrom(local); p.ID == "" {
			bad(colEmail, "no id can be made from %q: add an id column", short(local))
		}
		rw.derived = true
	}
	if raw := cell(colPhone); raw != "" {
		phone, msg := im.phone(raw)
		if msg != "" {
			bad(colPhone, "%q %s", short(raw), msg)
		}
		p.Phone = phone
	}
	if p.Lang = cell(colLang); p.Lang != "" && (len(p.Lang) > 35 || !langTag(p.Lang)) {
		bad(colLang, "%q is not a language tag such as ko or en", short(p.Lang))
	}
	for _, role := range split(strings.ToLower(cell(colRoles))) {
		switch {
		case !slices.Contains(relay.PersonRoles, role):
			bad(colRoles, "unknown role %q (known: %s)", short(role), strings.Join(relay.PersonRoles, ", "))
		case slices.Contains(p.Roles, role):
			bad(colRoles, "role %q is listed twice", role)
		default:
			p.Roles = append(p.Roles, role)
		}
	}
	for _, g := range split(cell(colGroups)) {
		id, msg := im.group(g)
		switch {
		case msg != "":
			bad(colGroups, "%s", msg)
		case slices.Contains(rw.groups, id):
			bad(colGroups, "group %q is listed twice", g)
		default:
			rw.groups = append(rw.groups, id)
		}
	}
	if ok && p.Phone == "" && p.Email == "" && !im.known(p.ID) {
		im.problem(line, "", "has no phone and no email, so cannot be reached")
		ok = false
	}
	return rw, ok
}

// known reports whether the roster merged into has the person.
func (im *importer) known(id string) bool {
	if im.opts.Into == nil {
		return false
	}
	_, ok := im.opts.Into.Person(id)
	return ok
}

// phone makes a number E.164, or says what is wrong with it.
func (im *importer) phone(raw string) (string, string) {
	if len(raw) > maxPhoneBytes {
		return "", fmt.Sprintf("is %d bytes; a phone number is at most %d", len(raw), maxPhoneBytes)
	}
	for _, r := range raw {
		if !strings.ContainsRune("0123456789+-.() ", r) {
			return "", fmt.Sprintf("is not a phone number: %q is not a digit, space, '-', '.', '(', ')' or '+'", r)
		}
	}
	if !strings.HasPrefix(raw, "+") && im.country == "" {
		return "", "is in local form: give the country its numbers are in (such as KR), or write it as +82 10-1234-5678"
	}
	n, err := phonenumbers.Parse(raw, im.country)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		where := "for " + im.country
		if strings.HasPrefix(raw, "+") || im.country == "" {
			where = "anywhere"
		}
		return "", "is not a valid phone number " + where + " (too short, too long or not in use)"
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if !relay.ValidE164(e164) {
		return "", "is not a number SMS and voice can reach"
	}
	return e164, ""
}

// group turns a group cell's entry into a group id: the entry itself
// when it is one (lowercased, spaces as '-'), or the id of the merged
// roster's group of that name.
func (im *importer) group(entry string) (string, string) {
	if im.opts.Into != nil {
		for _, g := range im.opts.Into.Groups {
			if g.ID == entry || g.Name == entry {
				return g.ID, ""
			}
		}
	}
	id := strings.ToLower(strings.Join(strings.Fields(entry), "-"))
	switch {
	case id == relay.TargetEveryone:
		return "", fmt.Sprintf("group %q is reserved for the whole roster", entry)
	case !relay.ValidID(id):
		return "", fmt.Sprintf("group %q is not a group id (a-z, 0-9 and '-') nor the name of a group in the roster merged into; add a group of that name to it", short(entry))
	}
	return id, ""
}

// split splits a cell of several values, separated by ';' or '|'.
func split(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// idFrom makes an id of an email's local part: lowercased, every
// character other than a-z and 0-9 a '-', runs of '-' as one, none at
// either end, at most 64 characters.
func idFrom(local string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(local) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	id := b.String()
	if len(id) > 64 {
		id = id[:64]
	}
	return strings.TrimRight(id, "-")
}

func langTag(s string) bool {
	parts := strings.Split(s, "-")
	for i, p := range parts {
		n := len(p)
		if i == 0 && (n < 2 || n > 3) || i > 0 && (n < 2 || n > 8) {
			return false
		}
		for _, r := range p {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// short is a cell's value for a message: cut when long.
func short(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// build makes the roster of the rows, merged into opts.Into.
func (im *importer) build() {
	out := &relay.Roster{}
	if im.opts.Into != nil {
		out = im.opts.Into.Clone()
	}
	at := make(map[string]int, len(out.People))
	for i, p := range out.People {
		at[p.ID] = i
	}
	groupAt := make(map[string]int, len(out.Groups))
	for i, g := range out.Groups {
		groupAt[g.ID] = i
	}
	for _, rw := range im.rows {
		p := rw.person
		if i, ok := at[p.ID]; ok {
			merge(&out.People[i], &p)
			im.updated++
		} else {
			at[p.ID] = len(out.People)
			out.People = append(out.People, p)
			im.added++
		}
		for _, g := range rw.groups {
			i, ok := groupAt[g]
			if !ok {
				i = len(out.Groups)
				groupAt[g] = i
				out.Groups = append(out.Groups, relay.Group{ID: g})
			}
			if !slices.Contains(out.Groups[i].Members, p.ID) {
				out.Groups[i].Members = append(out.Groups[i].Members, p.ID)
			}
		}
	}
	if err := out.Validate(); err != nil {
		for _, e := range unjoin(err) {
			im.problem(0, "", "the roster made is refused: %v", e)
		}
		return
	}
	im.out = out
}

// merge sets the fields of p that the row gave.
func merge(p, row *relay.Person) {
	if row.Name != "" {
		p.Name = row.Name
	}
	if row.Phone != "" {
		p.Phone = row.Phone
	}
	if row.Email != "" {
		p.Email = row.Email
	}
	if row.Lang != "" {
		p.Lang = row.Lang
	}
	if len(row.Roles) > 0 {
		p.Roles = row.Roles
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
