package rostercsv

import (
	"strings"
)

// Columns a CSV export may have. Each is matched by its name or an
// alias, in any case, with spaces, '_', '-' and '.' ignored.
const (
	colID     = "id"
	colName   = "name"
	colPhone  = "phone"
	colEmail  = "email"
	colLang   = "lang"
	colGroups = "groups"
	colRoles  = "roles"
)

// columnOrder is the order the known columns are listed in messages.
var columnOrder = []string{colID, colName, colPhone, colEmail, colLang, colGroups, colRoles}

// aliases maps a header, folded (see fold), to its column: the names
// HR exports use in English and Korean.
var aliases = map[string]string{
	"id": colID, "employeeid": colID, "employeeno": colID, "userid": colID, "username": colID,
	"사번": colID, "직원번호": colID, "사원번호": colID, "아이디": colID,

	"name": colName, "fullname": colName, "displayname": colName,
	"이름": colName, "성명": colName, "성함": colName,

	"phone": colPhone, "phonenumber": colPhone, "mobile": colPhone, "mobilephone": colPhone, "cell": colPhone, "cellphone": colPhone,
	"전화": colPhone, "전화번호": colPhone, "휴대폰": colPhone, "휴대폰번호": colPhone, "휴대전화": colPhone,
	"휴대전화번호": colPhone, "핸드폰": colPhone, "핸드폰번호": colPhone, "연락처": colPhone,

	"email": colEmail, "mail": colEmail, "emailaddress": colEmail,
	"이메일": colEmail, "메일": colEmail, "전자우편": colEmail, "이메일주소": colEmail,

	"lang": colLang, "language": colLang, "언어": colLang,

	"groups": colGroups, "group": colGroups, "team": colGroups, "teams": colGroups, "department": colGroups, "dept": colGroups,
	"그룹": colGroups, "부서": colGroups, "소속": colGroups, "팀": colGroups, "부서명": colGroups,

	"roles": colRoles, "role": colRoles, "역할": colRoles,
}

// fold is a header as aliases holds it.
func fold(h string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\u00a0', '\u3000':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(h)))
}

// column is the column a header names, or "".
func column(h string) string { return aliases[fold(h)] }
