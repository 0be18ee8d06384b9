package digelao

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testColumns are the default template's columns, as 5.11's example lists them.
var testColumns = parseColumns([]string{"姓名", "*电话", "地址", "公司名称", "备注"})

func contacts(n int) []Contact {
	out := make([]Contact, n)
	for i := range out {
		out[i] = Contact{Phone: fmt.Sprintf("138%08d", i)}
	}
	return out
}

// TestImportBodyIsSizedExactly checks that an import's body is allocated once, at its length,
// when the parameters around the contacts pass the 512 bytes a typical call is given.
func TestImportBodyIsSizedExactly(t *testing.T) {
	t.Parallel()
	req := createRequest(contacts(100)...)
	req.Name = "七月第一批老客户满意度回访任务(一)"
	req.AutoStart = true
	req.Recall = &Recall{Times: 3, Interval: 30 * time.Minute, Reasons: []string{"关机", "停机", "空号", "无人接听", "用户忙", "拒接", "无法接通"}}
	req.AppendTo = "dial_task_main_sn|3c69a4b1d2e35f7a9b0c1d2e3f4a5b6c"
	rows, err := req.rows()
	require.NoError(t, err)
	p := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey)
	call := req.params(rowBatch{rows, 0})
	for i, k := range call.keys {
		p.Set(k, call.vals[i])
	}
	body, err := signedBody(p)
	require.NoError(t, err)
	assert.Greater(t, len(body)-rows.sizes[0], 512, "the parameters besides the contacts")
	assert.Equal(t, len(body), cap(body))
}

func TestContactsAreNotAQueryValue(t *testing.T) {
	t.Parallel()
	rows, err := testColumns.rows(contacts(1), 1)
	require.NoError(t, err)
	_, err = signedQuery(NewParams().Set("client_info_json", rowBatch{rows, 0}))
	assert.ErrorContains(t, err, "unsupported parameter type")
}

// FuzzImportRows checks the contacts' encoding against referenceRows: the same contact fails, or
// every batch's body is the same bytes, allocated at its length. header is the columns, separated
// by commas; contacts holds a contact a line: phone, name and column=value, separated by tabs.
func FuzzImportRows(f *testing.F) {
	f.Add("姓名,*电话,地址,公司名称,备注", "138 0013-8000\t张三\t地址=深圳/南山\t备注=VIP\n13900139000", uint8(0))
	f.Add("*手机,姓名", "13800138000\t张三\n139-0013-9000\t李四\n 13700137000 \t王五\n1360013600x", uint8(1))
	f.Add("备注,*电话,备注,0", "13800138000\t\t备注=x\t*0=\"\\/\x01", uint8(0))
	f.Add("*姓名,*电话", "13800138000\t ", uint8(0))
	f.Add("*电话,地址", "13800138000\t\t地址=a\xffb", uint8(0))
	f.Add("*电话,\xff", "13800138000", uint8(0))
	f.Add("*电话,地址", "13800138000\t张三\t年龄=30\t电话=1", uint8(0))
	f.Fuzz(func(t *testing.T, header, contacts string, batch uint8) {
		cols := parseColumns(strings.Split(header, ","))
		var list []Contact
		for line := range strings.SplitSeq(contacts, "\n") {
			cells := strings.Split(line, "\t")
			ct := Contact{Phone: cells[0]}
			if len(cells) > 1 {
				ct.Name = cells[1]
			}
			for _, cell := range cells[min(2, len(cells)):] {
				k, v, _ := strings.Cut(cell, "=")
				if ct.Fields == nil {
					ct.Fields = map[string]string{}
				}
				ct.Fields[k] = v
			}
			list = append(list, ct)
		}
		size := int(batch)%len(list) + 1
		want, wantErr := referenceRows(cols, list)
		rows, err := cols.rows(list, size)
		if err != nil || wantErr != nil {
			if err == nil || wantErr == nil || failedAt(err) != failedAt(wantErr) {
				t.Fatalf("rows: %v; reference: %v", err, wantErr)
			}
			return
		}
		for b := range rows.sizes {
			call := func(info any) *Params {
				return NewParams().Set("user_sn", testUserSN).Set("client_info_json", info).Set("ai_user_sn", "SYSUSER|317d")
			}
			wantBody, err := signedBody(call(NewParams().Set("data", want[b*size:min((b+1)*size, len(want))])))
			if err != nil {
				t.Fatal(err)
			}
			body, err := signedBody(call(rowBatch{rows, b}))
			if err != nil || string(body) != string(wantBody) {
				t.Fatalf("batch %d: %v\n got %s\nwant %s", b, err, body, wantBody)
			}
			if len(body) != cap(body) {
				t.Fatalf("batch %d: %d bytes in a buffer of %d", b, len(body), cap(body))
			}
		}
	})
}

// failedAt names what a validation error is about: the contact ("Contacts[3]"), whichever of its
// fields, since a contact's bad fields are found in map order; or the whole error.
func failedAt(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		if contact, _, ok := strings.Cut(ve.Field, "]"); ok && strings.HasPrefix(contact, "Contacts[") {
			return contact + "]"
		}
	}
	return err.Error()
}

// referenceRows is the plain form of Columns.rows, the code it replaced: each contact's row is a
// *Params, encoded by the Params encoder, and phone numbers are cleaned by a strings.Replacer. The
// first contact that fails its checks or its encoding makes the error.
func referenceRows(cs Columns, contacts []Contact) ([]*Params, error) {
	if len(cs) == 0 {
		return nil, invalid("Columns", "are required: get them with ImportColumns")
	}
	phoneCol, nameCol := cs.phoneIndex(), cs.Index(nameColumn)
	if phoneCol < 0 {
		return nil, invalid("Columns", "have no phone column (电话 or 手机)")
	}
	if len(contacts) == 0 {
		return nil, invalid("Contacts", "at least one is required")
	}
	out := make([]*Params, len(contacts))
	for i, ct := range contacts {
		field := func(col string) string { return fmt.Sprintf("Contacts[%d].%s", i, col) }
		phone := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(ct.Phone))
		if len(phone) < 5 || len(phone) > 20 || strings.Trim(phone, "0123456789") != "" {
			return nil, invalid(field("Phone"), "%q is not a phone number (5 to 20 digits)", ct.Phone)
		}
		if ct.Name != "" && nameCol < 0 {
			return nil, invalid(field("Name"), "the template has no %s column", nameColumn)
		}
		for k := range ct.Fields {
			switch cs.Index(k) {
			case -1:
				return nil, invalid(field(k), "is not a column of the template")
			case phoneCol, nameCol:
				return nil, invalid(field(k), "set Contact.Phone or Contact.Name instead")
			}
		}
		row := NewParams()
		for j, col := range cs {
			var v string
			switch j {
			case phoneCol:
				v = phone
			case nameCol:
				v = ct.Name
			default:
				var ok bool
				if v, ok = ct.Fields[col.Name]; !ok {
					v = ct.Fields["*"+col.Name]
				}
			}
			if col.Required && strings.TrimSpace(v) == "" {
				return nil, invalid(field(col.Name), "is a required column")
			}
			row.Set(col.Name, v)
		}
		if _, err := row.MarshalJSON(); err != nil {
			return nil, invalid(fmt.Sprintf("Contacts[%d]", i), "%v", err)
		}
		out[i] = row
	}
	return out, nil
}
