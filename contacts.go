package digelao

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/digelao-go/digelao/internal/phpjson"
)

// MaxImportRows is the most contacts one import may carry (platform code 30005). Larger lists go
// through ImportInBatches.
const MaxImportRows = 30000

// Column is one import column of a script template.
type Column struct {
	Name     string // the header without its "*", e.g. "电话": the key of the contact rows
	Required bool   // the header was marked with "*"
}

// MarshalJSON writes the column as 5.11 lists it: the header, "*" first when it is required.
func (c Column) MarshalJSON() ([]byte, error) {
	h := c.Name
	if c.Required {
		h = "*" + h
	}
	return json.Marshal(h)
}

// UnmarshalJSON reads a header as 5.11 lists it.
func (c *Column) UnmarshalJSON(b []byte) error {
	var h string
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	*c = parseColumns([]string{h})[0]
	return nil
}

// Columns are a template's import columns in order, as ImportColumns returns them.
type Columns []Column

func parseColumns(headers []string) Columns {
	cols := make(Columns, 0, len(headers))
	for _, h := range headers {
		name, req := strings.CutPrefix(strings.TrimSpace(h), "*")
		cols = append(cols, Column{Name: name, Required: req})
	}
	return cols
}

// Index returns the position of the column name (with or without "*"), or -1.
func (cs Columns) Index(name string) int {
	name = strings.TrimPrefix(name, "*")
	for i, c := range cs {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// nameColumn is the header of the contact's name.
const nameColumn = "姓名"

// phoneIndex returns the column that holds the number: the first required one whose name holds
// 电话 or 手机, else the first such column at all, else -1 [inferred: templates name it "电话"].
func (cs Columns) phoneIndex() int {
	found := -1
	for i, c := range cs {
		if strings.Contains(c.Name, "电话") || strings.Contains(c.Name, "手机") {
			if c.Required {
				return i
			}
			if found < 0 {
				found = i
			}
		}
	}
	return found
}

// Contact is one number to call, with the template's other columns.
type Contact struct {
	Phone string // goes to the template's phone column (电话)
	Name  string // goes to the 姓名 column
	// Fields holds the other columns by header name, e.g. {"地址": "…", "公司名称": "…"}.
	Fields map[string]string
}

// contactRows are contacts checked against a template's columns, to be sent as client_info_json
// in batches. A batch is encoded straight into the request body, sized in advance with the
// lengths measured while checking: a full import is several MB, and growing a buffer to that size
// allocates it several times over.
type contactRows struct {
	cols              Columns
	phoneCol, nameCol int
	contacts          []Contact
	batch             int   // contacts per batch
	sizes             []int // each batch's client_info_json in bytes
	// A row is an object whose members are the columns' names (never a list: the phone column's
	// name is not a number); a name that appears twice keeps its first place and takes the later
	// value, as Params.Set does.
	names []string // the members, in order
	slot  []int    // the member of each column
	vals  []string // the row being encoded, by member
}

// client_info_json is {"data":[rows]}: the encoding of NewParams().Set("data", rows).
const rowsOpen, rowsClose = `{"data":[`, `]}`

// rows checks every contact against the columns — every column in the template's order, keys
// without "*", absent values as "" — and measures the client_info_json of each batch of at most
// batch contacts.
func (cs Columns) rows(contacts []Contact, batch int) (*contactRows, error) {
	if len(cs) == 0 {
		return nil, invalid("Columns", "are required: get them with ImportColumns")
	}
	r := &contactRows{cols: cs, phoneCol: cs.phoneIndex(), nameCol: cs.Index(nameColumn), contacts: contacts,
		batch: batch, slot: make([]int, len(cs))}
	if r.phoneCol < 0 {
		return nil, invalid("Columns", "have no phone column (电话 or 手机)")
	}
	if len(contacts) == 0 {
		return nil, invalid("Contacts", "at least one is required")
	}
	for j, col := range cs {
		if r.slot[j] = slices.Index(r.names, col.Name); r.slot[j] < 0 {
			r.slot[j] = len(r.names)
			r.names = append(r.names, col.Name)
		}
	}
	r.vals = make([]string, len(r.names))
	var row []byte
	for i := range contacts {
		if i%batch == 0 {
			r.sizes = append(r.sizes, len(rowsOpen)+len(rowsClose)-1) // -1: no comma before the first row
		}
		var err error
		if row, err = r.appendRow(row[:0], i); err != nil {
			return nil, err
		}
		r.sizes[len(r.sizes)-1] += 1 + len(row)
	}
	return r, nil
}

// rowBatch is batch b of rows as a client_info_json value: the Params encoder calls appendJSON to
// write it straight into the request body, which membersSize sizes with jsonLen. It is a concrete
// type, not an interface, so that the buffers the encoder is given can stay on their callers'
// stacks.
type rowBatch struct {
	rows *contactRows
	b    int
}

// jsonLen returns the length appendJSON adds.
func (rb rowBatch) jsonLen() int { return rb.rows.sizes[rb.b] }

// appendJSON appends the batch's client_info_json, checking its contacts again.
func (rb rowBatch) appendJSON(dst []byte) ([]byte, error) {
	r, first := rb.rows, rb.b*rb.rows.batch
	dst = append(dst, rowsOpen...)
	for i := first; i < min(first+r.batch, len(r.contacts)); i++ {
		if i > first {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = r.appendRow(dst, i); err != nil {
			return dst, err
		}
	}
	return append(dst, rowsClose...), nil
}

// appendRow checks contact i and appends its row to dst.
func (r *contactRows) appendRow(dst []byte, i int) ([]byte, error) {
	ct := &r.contacts[i]
	field := func(col string) string { return fmt.Sprintf("Contacts[%d].%s", i, col) }
	phone, ok := cleanPhone(ct.Phone)
	if !ok {
		return dst, notPhone(field("Phone"), ct.Phone)
	}
	if ct.Name != "" && r.nameCol < 0 {
		return dst, invalid(field("Name"), "the template has no %s column", nameColumn)
	}
	for k := range ct.Fields {
		switch r.cols.Index(k) {
		case -1:
			return dst, invalid(field(k), "is not a column of the template")
		case r.phoneCol, r.nameCol:
			return dst, invalid(field(k), "set Contact.Phone or Contact.Name instead")
		}
	}
	for j, col := range r.cols {
		var v string
		switch j {
		case r.phoneCol:
			v = phone
		case r.nameCol:
			v = ct.Name
		default:
			var ok bool
			if v, ok = ct.Fields[col.Name]; !ok {
				v = ct.Fields["*"+col.Name]
			}
		}
		if col.Required && strings.TrimSpace(v) == "" {
			return dst, invalid(field(col.Name), "is a required column")
		}
		r.vals[r.slot[j]] = v
	}
	dst = append(dst, '{')
	for k, name := range r.names {
		if k > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = phpjson.AppendString(dst, name); err == nil {
			dst, err = phpjson.AppendString(append(dst, ':'), r.vals[k])
		}
		if err != nil {
			return dst, invalid(field(name), "%v", err)
		}
	}
	return append(dst, '}'), nil
}

// phoneNumber returns s without spaces and dashes when what remains is 5 to 20 digits (a mobile
// number, or a landline with its area code), and otherwise a *ValidationError naming field.
func phoneNumber(field, s string) (string, error) {
	digits, ok := cleanPhone(s)
	if !ok {
		return "", notPhone(field, s)
	}
	return digits, nil
}

// cleanPhone is phoneNumber without the error, for callers that name the field only when it fails.
// It allocates only when s holds a space or a dash.
func cleanPhone(s string) (digits string, ok bool) {
	digits = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), " ", ""), "-", "")
	return digits, len(digits) >= 5 && len(digits) <= 20 && strings.Trim(digits, "0123456789") == ""
}

func notPhone(field, s string) error {
	return invalid(field, "%q is not a phone number (5 to 20 digits)", s)
}
