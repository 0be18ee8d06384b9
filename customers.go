package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// CustomersService covers platform section 6.7 客户CRM: the private (私海) and public (公海)
// customer pools.
type CustomersService service

// CustomerRow is one customer to import. The platform keys rows by its (Chinese) column names.
type CustomerRow struct {
	Phone   string            // 电话, required: 5 to 20 digits
	Name    string            // 姓名
	Address string            // 地址
	Fields  map[string]string // further columns by name, e.g. "公司名称", "备注"; sent in name order
}

// rowsJSON checks rows and returns add_json, {"data":[{"姓名":…,"电话":…,"地址":…,…},…]}, as the
// JSON text the platform decodes.
func rowsJSON(rows []CustomerRow) (string, error) {
	if len(rows) == 0 || len(rows) > MaxImportRows {
		return "", invalid("Rows", "between 1 and %d rows per import, got %d", MaxImportRows, len(rows))
	}
	list := make([]*Params, len(rows))
	for i, r := range rows {
		phone, err := phoneNumber(fmt.Sprintf("Rows[%d].Phone", i), r.Phone)
		if err != nil {
			return "", err
		}
		row := NewParams().Set("姓名", r.Name).Set("电话", phone)
		setText(row, "地址", r.Address)
		for _, k := range slices.Sorted(maps.Keys(r.Fields)) {
			if k == "" || k == "姓名" || k == "电话" || k == "地址" {
				return "", invalid(fmt.Sprintf("Rows[%d].Fields", i), "column %q is empty or has a field of its own", k)
			}
			row.Set(k, r.Fields[k])
		}
		list[i] = row
	}
	b, err := NewParams().Set("data", list).MarshalJSON()
	if err != nil {
		return "", invalid("Rows", "%v", err)
	}
	return string(b), nil
}

// CustomerImport is the result of a customer import. The platform answers with counts only; it
// does not say which rows failed or repeated.
type CustomerImport struct {
	Total    int    `json:"total"`         // rows received
	Added    int    `json:"success_count"` // rows imported
	Failed   int    `json:"fail"`
	Repeated int    `json:"repeat"` // already in the pool
	Msg      string `json:"msg"`    // e.g. "导入成功"
}

// customerImportReply is a CustomerImport as it arrives, with Added's presence.
type customerImportReply struct {
	Total    int    `json:"total"`
	Added    *int   `json:"success_count"`
	Failed   int    `json:"fail"`
	Repeated int    `json:"repeat"`
	Msg      string `json:"msg"`
}

var customerImportCodec = flex.NewCodec[customerImportReply]()

// importCustomers sends an import and reads its counts; an import that added no row (every row
// failed or was already in the pool) comes with an error matching ErrAllRejected. A reply without
// success_count counts every row that did not fail as added [inferred].
func (s *CustomersService) importCustomers(ctx context.Context, ep endpoint, p *Params) (*CustomerImport, error) {
	var w customerImportReply
	if err := fetchBodyWith(ctx, s.client, ep, p, customerImportCodec, &w); err != nil {
		return nil, err
	}
	res := &CustomerImport{Total: w.Total, Failed: w.Failed, Repeated: w.Repeated, Msg: w.Msg}
	if w.Added != nil {
		res.Added = *w.Added
	} else {
		res.Added = max(res.Total-res.Failed-res.Repeated, 0)
	}
	return res, allRejected(ep, res.Added, res.Total)
}

var (
	addPrivateEndpoint   = endpoint{method: http.MethodGet, path: "/api/addCustomerJson"}
	addPublicEndpoint    = endpoint{method: http.MethodGet, path: "/api/addPublicCustomerJson"}
	importPublicEndpoint = endpoint{method: http.MethodPost, path: "/api/importPublicCustomerExcle"}
)

// AddPrivateRequest adds customers to the private pool (私海).
type AddPrivateRequest struct {
	Rows []CustomerRow
	// OwnerSNs are the sub-accounts (user_sn values) whose pool receives them; none: the
	// platform's default owner.
	OwnerSNs []string
}

// AddPrivate adds req.Rows to the private pool (私海) of req.OwnerSNs.
//
// Platform API 6.7.1 私海导入json方式 (GET /api/addCustomerJson): add_json and user_sn_input (sns
// joined by commas). add_json is sent as JSON text, as its table types it (string). The reply is
// not shown; the counts are read as 6.7.3 answers them [inferred]. Imports are writes: not
// retried unless under AllowRetry.
func (s *CustomersService) AddPrivate(ctx context.Context, req *AddPrivateRequest) (*CustomerImport, error) {
	if req == nil {
		return nil, invalid("AddPrivateRequest", "is nil")
	}
	js, err := rowsJSON(req.Rows)
	if err != nil {
		return nil, err
	}
	for i, sn := range req.OwnerSNs {
		if strings.TrimSpace(sn) == "" || strings.Contains(sn, ",") {
			return nil, invalid(fmt.Sprintf("OwnerSNs[%d]", i), "%q is not a user_sn", sn)
		}
	}
	p := NewParams().Set("add_json", js)
	setText(p, "user_sn_input", strings.Join(req.OwnerSNs, ","))
	return s.importCustomers(ctx, addPrivateEndpoint, p)
}

// AddPublicRequest adds customers to the public pool (公海).
type AddPublicRequest struct {
	Rows []CustomerRow
	// ReleasePrivate sets auto_ignore, 私海客户自动放弃 [inferred: customers found in a private
	// pool are released from it].
	ReleasePrivate bool
}

// AddPublic adds req.Rows to the public pool (公海).
//
// Platform API 6.7.2 公海导入json方式 (GET /api/addPublicCustomerJson): add_json (JSON text) and
// auto_ignore (1/0). The reply is read as for AddPrivate [inferred].
func (s *CustomersService) AddPublic(ctx context.Context, req *AddPublicRequest) (*CustomerImport, error) {
	if req == nil {
		return nil, invalid("AddPublicRequest", "is nil")
	}
	js, err := rowsJSON(req.Rows)
	if err != nil {
		return nil, err
	}
	return s.importCustomers(ctx, addPublicEndpoint, NewParams().Set("add_json", js).Set("auto_ignore", req.ReleasePrivate))
}

// CustomerOrigin is follow_set_id: where the customers of a public-pool import come from.
type CustomerOrigin int

// Customer origins (6.7.4 follow_set_id).
const (
	OriginAIScreening CustomerOrigin = 0  // ai初选
	OriginManual      CustomerOrigin = -1 // 人工导入
	OriginLead        CustomerOrigin = -2 // 商机导入
)

// ImportPublicRequest imports an Excel workbook of customers into the public pool.
type ImportPublicRequest struct {
	File           File           // .xlsx or .xls
	ReleasePrivate bool           // as in AddPublicRequest
	Origin         CustomerOrigin // follow_set_id; the zero value is OriginAIScreening
}

// ImportPublic imports req.File into the public pool. The file is streamed (see File).
//
// Platform API 6.7.4 公海导入excel方式 (POST /api/importPublicCustomerExcle, sic), multipart: upload,
// auto_ignore, follow_set_id. The reply is {"total","success_count","fail":"0","repeat":"0",
// "msg","rst":"200"}.
func (s *CustomersService) ImportPublic(ctx context.Context, req *ImportPublicRequest) (*CustomerImport, error) {
	if req == nil {
		return nil, invalid("ImportPublicRequest", "is nil")
	}
	file, err := uploadFile(&req.File, excelExts...)
	if err != nil {
		return nil, err
	}
	if req.Origin < OriginLead || req.Origin > OriginAIScreening {
		return nil, invalid("Origin", "must be OriginAIScreening, OriginManual or OriginLead, got %d", req.Origin)
	}
	p := NewParams().Set("auto_ignore", req.ReleasePrivate).Set("follow_set_id", int(req.Origin)).Set(uploadField, file)
	return s.importCustomers(ctx, importPublicEndpoint, p)
}

// Customer is a customer in one of the pools, as 6.7.5 lists it. Extra keeps the import columns
// and other members without a field here.
type Customer struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Phone     string    `json:"phone"`
	OwnerSN   string    `json:"user_sn"`    // the owner of a private-pool customer [inferred]
	Private   bool      `json:"is_private"` // [inferred]
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var customerCodec = flex.NewCodec[Customer]()

// UnmarshalJSON decodes a customer tolerantly.
func (c *Customer) UnmarshalJSON(b []byte) error { return customerCodec.Decode(b, c) }

// MarshalJSON writes the customer with the platform's member names.
func (c Customer) MarshalJSON() ([]byte, error) { return customerCodec.Encode(&c) }

// CustomerListOptions selects customers for List.
type CustomerListOptions struct {
	ListOptions
	Private bool   // isPrivate: the private pool (私海); false: the public pool (公海)
	Search  string // namephone: part of a name or a number
	// UpdatedFrom and UpdatedTo bound the last change (China time on the wire); zero: unbounded.
	UpdatedFrom, UpdatedTo time.Time
}

var (
	customerListEndpoint = endpoint{method: http.MethodGet, path: "/api/customerList", read: true}
	customerPages        = flex.NewCodec[listPage[*Customer]](flex.Inline[Customer]())
)

// List returns a page of the customers of one pool (nil opts: the first page of the public
// pool) and how many match.
//
// Platform API 6.7.5 获取公海私海列表接口 (GET /api/customerList): pageIndex, pageSize (default 5),
// isPrivate (1/0, required) and data, a JSON search object (namephone, updated_at_start,
// updated_at_end, … — the page is cut off), sent as JSON text only when a filter is set. The
// reply is cut off too; data {"total","list"} as in the other lists is inferred.
func (s *CustomersService) List(ctx context.Context, opts *CustomerListOptions) ([]*Customer, int, error) {
	pg, err := s.page(ctx, opts)
	return pg.items, pg.total, err
}

// All returns every customer of the pool opts selects, from page opts.Page on, paged as
// RecordsService.All pages.
//
// Platform API 6.7.5 获取公海私海列表接口 (GET /api/customerList); see List.
func (s *CustomersService) All(ctx context.Context, opts *CustomerListOptions) iter.Seq2[*Customer, error] {
	o := CustomerListOptions{}
	if opts != nil {
		o = *opts
	}
	return pageAll(ctx, "customers", &o.ListOptions, func(ctx context.Context, lo *ListOptions) (page[*Customer], error) {
		o.ListOptions = *lo
		return s.page(ctx, &o)
	}, func(c *Customer) string { return strconv.FormatInt(c.ID, 10) + "|" + c.Phone })
}

func (s *CustomersService) page(ctx context.Context, opts *CustomerListOptions) (page[*Customer], error) {
	if opts == nil {
		opts = &CustomerListOptions{}
	}
	if err := checkPeriod("UpdatedTo", opts.UpdatedFrom, opts.UpdatedTo); err != nil {
		return page[*Customer]{}, err
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return page[*Customer]{}, err
	}
	p.Set("isPrivate", opts.Private)
	search := NewParams()
	setText(search, "namephone", strings.TrimSpace(opts.Search))
	setTime(search, "updated_at_start", opts.UpdatedFrom)
	setTime(search, "updated_at_end", opts.UpdatedTo)
	if search.Len() > 0 {
		b, err := search.MarshalJSON()
		if err != nil {
			return page[*Customer]{}, invalid("Search", "%v", err)
		}
		p.Set("data", string(b))
	}
	return fetchPage(ctx, s.client, customerListEndpoint, p, customerPages, (*listPage[*Customer]).page)
}
