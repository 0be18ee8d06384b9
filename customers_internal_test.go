package digelao

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var twoCustomers = []CustomerRow{
	{Phone: "13800138000", Name: "张三", Address: "深圳", Fields: map[string]string{"备注": "vip", "公司名称": "甲"}},
	{Phone: " 020-8888 6666 "},
}

// twoCustomersJSON is add_json for twoCustomers: fields in name order, PHP escapes.
const twoCustomersJSON = `{"data":[{"\u59d3\u540d":"\u5f20\u4e09","\u7535\u8bdd":"13800138000","\u5730\u5740":"\u6df1\u5733",` +
	`"\u516c\u53f8\u540d\u79f0":"\u7532","\u5907\u6ce8":"vip"},{"\u59d3\u540d":"","\u7535\u8bdd":"02088886666"}]}`

func TestCustomersAddPrivate(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "GET", "/api/addCustomerJson", "admin_customer_import.json")
	res, err := c.Customers.AddPrivate(context.Background(), &AddPrivateRequest{Rows: twoCustomers, OwnerSNs: []string{"SYSUSER|a", "SYSUSER|b"}})
	require.NoError(t, err)
	assertGet(t, got, "/api/addCustomerJson",
		commonQuery+"&add_json="+queryEscape(twoCustomersJSON)+"&user_sn_input=SYSUSER%7Ca%2CSYSUSER%7Cb",
		commonJSON+`,"add_json":`+jsonText(twoCustomersJSON)+`,"user_sn_input":"SYSUSER|a,SYSUSER|b"}`)
	assert.Equal(t, &CustomerImport{Total: 3, Added: 1, Failed: 1, Repeated: 1, Msg: "导入成功"}, res)
}

// jsonText is s as PHP's json_encode writes it inside JSON: quoted, with " \ and / escaped.
func jsonText(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `/`, `\/`).Replace(s) + `"`
}

func TestCustomersAddPublic(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "GET", "/api/addPublicCustomerJson", "admin_customer_import.json")
	_, err := c.Customers.AddPublic(context.Background(), &AddPublicRequest{Rows: twoCustomers[1:], ReleasePrivate: true})
	require.NoError(t, err)
	js := `{"data":[{"\u59d3\u540d":"","\u7535\u8bdd":"02088886666"}]}`
	assertGet(t, got, "/api/addPublicCustomerJson", commonQuery+"&add_json="+queryEscape(js)+"&auto_ignore=1",
		commonJSON+`,"add_json":`+jsonText(js)+`,"auto_ignore":"1"}`)
}

func TestCustomersImportWhereEveryRowFailedIsAnError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	serveReply(t, mt, "GET", "/api/addPublicCustomerJson", "admin_customer_import_failed.json")
	res, err := c.Customers.AddPublic(context.Background(), &AddPublicRequest{Rows: twoCustomers})
	require.ErrorIs(t, err, ErrAllRejected)
	assert.Equal(t, 2, res.Failed)
}

func TestCustomersImportOfRepeatsOnlyIsAnError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got captured
	mt.RegisterResponder("GET", testBase+"/api/addCustomerJson",
		capture(&got, 200, `{"total":2,"success_count":0,"fail":"0","repeat":"2","msg":"导入成功","rst":"200"}`))
	res, err := c.Customers.AddPrivate(context.Background(), &AddPrivateRequest{Rows: twoCustomers})
	require.ErrorIs(t, err, ErrAllRejected, "nothing was added")
	assert.Equal(t, &CustomerImport{Total: 2, Repeated: 2, Msg: "导入成功"}, res)

	mt.RegisterResponder("GET", testBase+"/api/addCustomerJson", capture(&got, 200, `{"code":0,"total":3,"fail":1,"repeat":1}`))
	res, err = c.Customers.AddPrivate(context.Background(), &AddPrivateRequest{Rows: twoCustomers})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Added, "no success_count: the rows neither failed nor repeated")
}

func TestCustomersImportPublicExcel(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/importPublicCustomerExcle",
		multipartResponder(t, &got, true, 200, readReply(t, "admin_customer_import.json")))
	res, err := c.Customers.ImportPublic(context.Background(), &ImportPublicRequest{File: File{Name: "客户.XLSX", Content: strings.NewReader("xlsx")}, Origin: OriginLead})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Added)
	assert.Equal(t, [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"auto_ignore", "0"}, {"follow_set_id", "-2"},
		{"url", urlOf(commonJSON + `,"auto_ignore":"0","follow_set_id":"-2"}`)}}, got.fields)
	assert.Equal(t, "upload", got.fileField)
	assert.Equal(t, "xlsx", string(got.file))
}

func TestCustomersList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "GET", "/api/customerList", "admin_customer_list.json")
	list, total, err := c.Customers.List(context.Background(), &CustomerListOptions{ListOptions: ListOptions{PerPage: 10},
		Private: true, Search: "张", UpdatedFrom: china("2026-11-01 00:00:00")})
	require.NoError(t, err)
	search := `{"namephone":"\u5f20","updated_at_start":"2026-11-01 00:00:00"}`
	assertGet(t, got, "/api/customerList", commonQuery+"&pageIndex=0&pageSize=10&isPrivate=1&data="+queryEscape(search),
		commonJSON+`,"pageIndex":"0","pageSize":"10","isPrivate":"1","data":`+jsonText(search)+`}`)
	assert.Equal(t, 12, total)
	require.Len(t, list, 1)
	cu := list[0]
	assert.Equal(t, int64(31), cu.ID)
	assert.Equal(t, "张三", cu.Name)
	assert.Equal(t, "13800138000", cu.Phone)
	assert.Equal(t, "SYSUSER|108c5de495480208f59162173b327f46", cu.OwnerSN)
	assert.True(t, cu.Private)
	assert.Equal(t, china("2026-11-21 11:30:00"), cu.UpdatedAt)
	assert.JSONEq(t, `"深圳"`, string(cu.Extra["地址"]))

	// No filter: no data parameter.
	_, _, err = c.Customers.List(context.Background(), &CustomerListOptions{})
	require.NoError(t, err)
	assertGet(t, got, "/api/customerList", commonQuery+"&pageIndex=0&isPrivate=0", commonJSON+`,"pageIndex":"0","isPrivate":"0"}`)
}

func TestCustomersRefuseBadInput(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	for name, rows := range map[string][]CustomerRow{
		"none":          nil,
		"no phone":      {{Name: "x"}},
		"letters":       {{Phone: "1380013800a"}},
		"short":         {{Phone: "1234"}},
		"field clash":   {{Phone: "13800138000", Fields: map[string]string{"电话": "1"}}},
		"empty column":  {{Phone: "13800138000", Fields: map[string]string{"": "1"}}},
		"too many rows": make([]CustomerRow, MaxImportRows+1),
	} {
		_, err := c.Customers.AddPublic(ctx, &AddPublicRequest{Rows: rows})
		assertNothingSent(t, mt, err, name)
		_, err = c.Customers.AddPrivate(ctx, &AddPrivateRequest{Rows: rows})
		assertNothingSent(t, mt, err, name)
	}
	_, err := c.Customers.AddPrivate(ctx, &AddPrivateRequest{Rows: twoCustomers, OwnerSNs: []string{"SYSUSER|a,SYSUSER|b"}})
	assertNothingSent(t, mt, err)
	_, err = c.Customers.ImportPublic(ctx, &ImportPublicRequest{File: File{Name: "a.xlsx", Content: strings.NewReader("")}, Origin: CustomerOrigin(-3)})
	assertNothingSent(t, mt, err)
	_, _, err = c.Customers.List(ctx, &CustomerListOptions{UpdatedFrom: china("2026-11-02"), UpdatedTo: china("2026-11-01")})
	assertNothingSent(t, mt, err)
}
