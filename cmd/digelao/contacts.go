package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/digelao-go/digelao"
)

const contactsHelp = `
The contacts file is a CSV or an Excel workbook (.xlsx) whose first row names the columns:
  - the phone number goes in a column named phone, mobile, tel, 号码, or any name holding 电话
    or 手机 (电话, 手机号, 联系电话 …); the first such column is the number;
  - the customer's name in 姓名, 客户姓名, 名字 or name;
  - every other column by the template's own name for it ("digelao templates columns SN" lists
    them; "*" marks a required one).
A CSV may be UTF-8, with or without the byte-order mark Excel's "CSV UTF-8" writes, or GB18030/GBK,
which Excel's "CSV (逗号分隔)" writes on a Chinese Windows; empty rows are skipped. A CSV is
checked before anything is sent and imported in batches of up to 30,000 contacts. A workbook is
uploaded as it is (5.7.1) and read by the platform: its header row must be the template's
columns, as "templates columns" lists them.`

// sheet is a contacts CSV as read: the header, the rows, and each row's line in the file.
type sheet struct {
	path     string
	encoding string // "UTF-8" or "GB18030"
	header   []string
	rows     [][]string
	lines    []int
	phone    int            // the phone column
	name     int            // the name column, or -1
	byPhone  map[string]int // each number's first line, once lineOf needs it
}

// readSheet reads a contacts CSV and finds its phone and name columns.
func readSheet(path string) (*sheet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &fileError{flag: "--contacts", err: err}
	}
	text, enc, err := decodeText(b)
	if err != nil {
		return nil, inputf("%s: %v", path, err)
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	s := &sheet{path: path, encoding: enc, name: -1}
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, inputf("%s: %v", path, err)
		}
		line, _ := r.FieldPos(0)
		for i := range row {
			row[i] = strings.TrimSpace(row[i])
		}
		if strings.Join(row, "") == "" {
			continue // Excel writes ",,," for a row it once held
		}
		if s.header == nil {
			s.header = row
			continue
		}
		if len(row) > len(s.header) && strings.Join(row[len(s.header):], "") != "" {
			return nil, inputf("%s:%d: %s, but the header names %s", path, line, count(len(row), "field"),
				count(len(s.header), "column"))
		}
		s.rows, s.lines = append(s.rows, row), append(s.lines, line)
	}
	if s.header == nil {
		return nil, inputf("%s: empty: want a header row, then one row per contact", path)
	}
	if len(s.header) == 1 && strings.Contains(s.header[0], ";") {
		return nil, inputf("%s: its columns are separated by semicolons (%s), as Excel writes a CSV where the "+
			"decimal mark is a comma: save it as \"CSV UTF-8 (逗号分隔)\", or separate them by commas", path, s.header[0])
	}
	if s.phone = phoneColumn(s.header); s.phone < 0 {
		return nil, inputf("%s: no phone column among the headers %s; name it phone, mobile, tel, 号码, or a name "+
			"holding 电话 or 手机 (see \"digelao tasks create --help\")", path, quoteAll(s.header))
	}
	for i, h := range s.header {
		if i != s.phone && isOneOf(h, "姓名", "客户姓名", "名字", "name") {
			s.name = i
			break
		}
	}
	if len(s.rows) == 0 {
		return nil, inputf("%s: a header row and no contacts", path)
	}
	return s, nil
}

// decodeText returns a CSV file's text: UTF-8 without its byte-order mark, or GB18030 (a superset
// of GBK) decoded. It says which it read.
func decodeText(b []byte) (string, string, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if utf8.Valid(b) {
		return string(b), "UTF-8", nil
	}
	if bytes.HasPrefix(b, []byte("\xff\xfe")) || bytes.HasPrefix(b, []byte("\xfe\xff")) {
		return "", "", errors.New(`UTF-16 text (Excel's "Unicode text"): save it as "CSV UTF-8" or "CSV (逗号分隔)"`)
	}
	text, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil || bytes.ContainsRune(text, utf8.RuneError) {
		return "", "", errors.New("neither UTF-8 nor GB18030/GBK text: save it as \"CSV UTF-8\"")
	}
	return string(text), "GB18030", nil
}

// phoneColumn returns the first header that names the phone number, or -1.
func phoneColumn(header []string) int {
	for i, h := range header {
		h = strings.TrimPrefix(h, "*")
		if isOneOf(h, "phone", "mobile", "tel", "号码") || strings.Contains(h, "电话") || strings.Contains(h, "手机") {
			return i
		}
	}
	return -1
}

func isOneOf(h string, names ...string) bool {
	h = strings.TrimPrefix(strings.TrimSpace(h), "*")
	for _, n := range names {
		if strings.EqualFold(h, n) {
			return true
		}
	}
	return false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// contacts returns the rows as contacts of a template with columns cols. A header that is not one
// of the template's columns is refused, naming the columns the template has.
func (s *sheet) contacts(cols digelao.Columns) ([]digelao.Contact, error) {
	for i, h := range s.header {
		if i != s.phone && i != s.name && cols.Index(h) < 0 {
			names := make([]string, len(cols))
			for j, c := range cols {
				names[j] = c.Name
			}
			return nil, inputf("%s: column %q is not one of the template's: %s", s.path, h, quoteAll(names))
		}
	}
	out := make([]digelao.Contact, len(s.rows))
	for r, row := range s.rows {
		ct := digelao.Contact{Fields: map[string]string{}}
		for i, v := range row[:min(len(row), len(s.header))] {
			switch i {
			case s.phone:
				ct.Phone = v
			case s.name:
				ct.Name = v
			default:
				ct.Fields[strings.TrimPrefix(s.header[i], "*")] = v
			}
		}
		out[r] = ct
	}
	return out, nil
}

var contactField = regexp.MustCompile(`^Contacts\[(\d+)\]\.(.+)$`)

// maxBadRows is how many refused rows check lists; it counts the others.
const maxBadRows = 20

// check checks each of req's contacts as the SDK does before it sends them, and reports every row
// it would refuse at once — the first maxBadRows, and how many more — where the SDK stops at the
// first. An error that is not about a contact comes as it is.
func (s *sheet) check(req *digelao.CreateTaskRequest) error {
	one := *req
	var bad []error
	n := 0
	for i := range req.Contacts {
		one.Contacts = req.Contacts[i : i+1]
		err := one.Validate()
		if err == nil {
			continue
		}
		var invalid *digelao.ValidationError
		if !errors.As(err, &invalid) || !contactField.MatchString(invalid.Field) {
			return err // not about the contact
		}
		if n++; n <= maxBadRows {
			bad = append(bad, s.at(err, i))
		}
	}
	switch n {
	case 0:
		return nil
	case 1:
		return bad[0]
	}
	lines := make([]string, len(bad), len(bad)+1)
	for i, err := range bad {
		lines[i] = strings.TrimPrefix(err.Error(), "digelao: ")
	}
	if n > maxBadRows {
		lines = append(lines, fmt.Sprintf("… and %d more", n-maxBadRows))
	}
	return inputf("%d rows the platform would refuse, so nothing was sent:\n  %s", n, strings.Join(lines, "\n  "))
}

// where rewrites an SDK validation error about contact i ("Contacts[3].Phone") to name the
// file, the line and the column as the user wrote them.
func (s *sheet) where(err error) error { return s.at(err, 0) }

// at is where for an error about contact i of the contacts from contact first on.
func (s *sheet) at(err error, first int) error {
	var invalid *digelao.ValidationError
	if !errors.As(err, &invalid) {
		return err
	}
	m := contactField.FindStringSubmatch(invalid.Field)
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[1])
	i += first
	col := m[2]
	switch col {
	case "Phone":
		col = s.header[s.phone]
	case "Name":
		if s.name >= 0 {
			col = s.header[s.name]
		}
	}
	if i >= len(s.lines) {
		return err
	}
	return &digelao.ValidationError{Field: fmt.Sprintf("%s:%d, column %q", s.path, s.lines[i], col), Reason: invalid.Reason}
}

// chinaPhone matches a Chinese mobile number (1[3-9] and nine digits, after 86 or 0086 or not) or
// a fixed-line number (0, a two- or three-digit area code, a seven- or eight-digit number).
var chinaPhone = regexp.MustCompile(`^(?:(?:0086|86)?1[3-9]\d{9}|0[1-9]\d{9,10})$`)

// chinesePhone returns s without spaces and dashes, and whether a Chinese mobile or fixed-line
// number matches it.
func chinesePhone(s string) (string, bool) {
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	return digits, chinaPhone.MatchString(digits)
}

// maxListed is how many numbers a warning lists.
const maxListed = 10

// warnPhones says on w, before anything is sent, which numbers of the sheet no Chinese mobile or
// fixed-line number matches: the SDK takes any 5 to 20 digits, and the platform would dial them.
// A number that is not digits at all is left to the SDK's check, which refuses it.
func (s *sheet) warnPhones(w io.Writer) {
	var odd []string
	n := 0
	for i, row := range s.rows {
		digits, ok := chinesePhone(row[s.phone])
		if ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		if n++; n <= maxListed {
			odd = append(odd, fmt.Sprintf("%s:%d %s", s.path, s.lines[i], row[s.phone]))
		}
	}
	if n == 0 {
		return
	}
	more, are, they := "", "are", "they are"
	if n > maxListed {
		more = fmt.Sprintf(" and %d more", n-maxListed)
	}
	if n == 1 {
		are, they = "is", "it is"
	}
	fmt.Fprintf(w, "warning: %s %s neither a Chinese mobile number (1[3-9] and 9 digits) nor a fixed-line number "+
		"(0, area code, number), and %s sent as %s: %s%s\n", count(n, "number"), are, are, they, strings.Join(odd, ", "), more)
}

// lineOf returns "FILE:LINE  " for the first row whose number is phone, or "".
func (s *sheet) lineOf(phone string) string {
	if s.byPhone == nil {
		s.byPhone = map[string]int{}
		for i := len(s.rows) - 1; i >= 0; i-- {
			digits, _ := chinesePhone(s.rows[i][s.phone])
			s.byPhone[digits] = s.lines[i]
		}
	}
	digits, _ := chinesePhone(phone)
	if line, ok := s.byPhone[digits]; ok {
		return fmt.Sprintf("%s:%d  ", s.path, line)
	}
	return ""
}
