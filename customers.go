package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
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
		return "", invalid("rows", "between 1 and %d rows per import, got %d", MaxImportRows, len(rows))
	}
	list := make([]*Params, len(rows))
	for i, r := range rows {
		phone, err := phoneNumber(fmt.Sprintf("rows[%d].Phone", i), r.Phone)
		if err != nil {
			return "", err
		}
		row := NewParams().Set("姓名", r.Name).Set("电话", phone)
		setText(row, "地址", r.Address)
		for _, k := range slices.Sorted(maps.Keys(r.Fields)) {
			if k == "" || k == "姓名" || k == "电话" || k == "地址" {
				return "", invalid(fmt.Sprintf("rows[%d].Fields", i), "column %q is empty or has a field of its own", k)
			}
			row.Set(k, r.Fields[k])
		}
		list[i] = row
	}
	b, err := NewParams().Set("data", list).MarshalJSON()
	if err != nil {
		return "", invalid("rows", "%v", err)
	}
	return string(b), nil
}

// CustomerImport is the result of a customer import. The platform answers with counts only; it
// does not say which rows failed or repeated.
type CustomerImport struct {
	Total    int    // rows received
	Added    int    // success_count
	Failed   int    // fail
	Repeated int    // repeat: already in the pool
	Msg      string // e.g. "导入成功"
}

type customerImportWire struct {
	Total    flex.Int    `json:"total"`
	Added    *flex.Int   `json:"success_count"`
	Failed   flex.Int    `json:"fail"`
	Repeated flex.Int    `json:"repeat"`
	Msg      flex.String `json:"msg"`
}

// importCustomers sends an import and reads its counts; an import that added no row (every row
// failed or was already in the pool) comes with an error matching ErrAllRejected. A reply without
// success_count counts every row that did not fail as added [inferred].
func (s *CustomersService) importCustomers(ctx context.Context, ep endpoint, p *Params) (*CustomerImport, error) {
	var w customerImportWire
	if err := s.client.fetchBody(ctx, ep, p, &w); err != nil {
		return nil, err
	}
	res := &CustomerImport{Total: int(w.Total), Failed: int(w.Failed), Repeated: int(w.Repeated), Msg: string(w.Msg)}
	if w.Added != nil {
		res.Added = int(*w.Added)
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

// AddPrivate adds rows to the private pool (私海) of the sub-accounts ownerSNs (user_sn values;
// none: the platform's default owner).
//
// Platform API 6.7.1 私海导入json方式 (GET /api/addCustomerJson): add_json and user_sn_input (sns
// joined by commas). add_json is sent as JSON text, as its table types it (string). The reply is
// not shown; the counts are read as 6.7.3 answers them [inferred]. Imports are writes: not
// retried unless under AllowRetry.
func (s *CustomersService) AddPrivate(ctx context.Context, rows []CustomerRow, ownerSNs ...string) (*CustomerImport, error) {
	js, err := rowsJSON(rows)
	if err != nil {
		return nil, err
	}
	for i, sn := range ownerSNs {
		if strings.TrimSpace(sn) == "" || strings.Contains(sn, ",") {
			return nil, invalid(fmt.Sprintf("ownerSNs[%d]", i), "%q is not a user_sn", sn)
		}
	}
	p := NewParams().Set("add_json", js)
	setText(p, "user_sn_input", strings.Join(ownerSNs, ","))
	return s.importCustomers(ctx, addPrivateEndpoint, p)
}

// AddPublic adds rows to the public pool (公海). autoRelease sets auto_ignore: 私海客户自动放弃
// [inferred: customers found in a private pool are released from it].
//
// Platform API 6.7.2 公海导入json方式 (GET /api/addPublicCustomerJson): add_json (JSON text) and
// auto_ignore (1/0). The reply is read as for AddPrivate [inferred].
func (s *CustomersService) AddPublic(ctx context.Context, rows []CustomerRow, autoRelease bool) (*CustomerImport, error) {
	js, err := rowsJSON(rows)
	if err != nil {
		return nil, err
	}
	return s.importCustomers(ctx, addPublicEndpoint, NewParams().Set("add_json", js).Set("auto_ignore", autoRelease))
}

// CustomerOrigin is follow_set_id: where the customers of a public-pool import come from.
type CustomerOrigin int

// Customer origins (6.7.4 follow_set_id).
const (
	OriginAIScreening CustomerOrigin = 0  // ai初选
	OriginManual      CustomerOrigin = -1 // 人工导入
	OriginLead        CustomerOrigin = -2 // 商机导入
)

// ImportPublic imports an Excel workbook (.xlsx or .xls) of customers into the public pool. See
// AddPublic for autoRelease; origin is the customers' follow_set_id. The file is streamed (see File).
//
// Platform API 6.7.4 公海导入excel方式 (POST /api/importPublicCustomerExcle, sic), multipart: upload,
// auto_ignore, follow_set_id. The reply is {"total","success_count","fail":"0","repeat":"0",
// "msg","rst":"200"}.
func (s *CustomersService) ImportPublic(ctx context.Context, f File, autoRelease bool, origin CustomerOrigin) (*CustomerImport, error) {
	file, err := uploadFile(&f, excelExts...)
	if err != nil {
		return nil, err
	}
	if origin < OriginLead || origin > OriginAIScreening {
		return nil, invalid("origin", "must be OriginAIScreening, OriginManual or OriginLead, got %d", origin)
	}
	p := NewParams().Set("auto_ignore", autoRelease).Set("follow_set_id", int(origin)).Set(uploadField, file)
	return s.importCustomers(ctx, importPublicEndpoint, p)
}

// Customer is a customer in one of the pools, as 6.7.5 lists it. Extra keeps the import columns
// and other members without a field here.
type Customer struct {
	ID        int64
	Name      string
	Phone     string
	OwnerSN   string // user_sn: the owner of a private-pool customer [inferred]
	Private   bool   // is_private [inferred]
	CreatedAt time.Time
	UpdatedAt time.Time
	Extra     map[string]json.RawMessage
	Raw       json.RawMessage
}

type customerWire struct {
	ID        flex.Int    `json:"id"`
	Name      flex.String `json:"name"`
	Phone     flex.String `json:"phone"`
	OwnerSN   flex.String `json:"user_sn"`
	Private   flex.Int    `json:"is_private"`
	CreatedAt flex.Time   `json:"created_at"`
	UpdatedAt flex.Time   `json:"updated_at"`
}

var customerKeys = jsonKeys(customerWire{})

// UnmarshalJSON decodes a customer tolerantly.
func (c *Customer) UnmarshalJSON(b []byte) error {
	var w customerWire
	extra, raw, err := decodeLoose(b, &w, customerKeys)
	if err != nil {
		return err
	}
	*c = Customer{ID: int64(w.ID), Name: string(w.Name), Phone: string(w.Phone), OwnerSN: string(w.OwnerSN),
		Private: w.Private == 1, CreatedAt: w.CreatedAt.Time, UpdatedAt: w.UpdatedAt.Time, Extra: extra, Raw: raw}
	return nil
}

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
	customerPages        = flex.NewCodec[listPage[*Customer]]()
)

// List returns a page of the customers of one pool (nil opts: the first page of the public
// pool) and how many match.
//
// Platform API 6.7.5 获取公海私海列表接口 (GET /api/customerList): pageIndex, pageSize (default 5),
// isPrivate (1/0, required) and data, a JSON search object (namephone, updated_at_start,
// updated_at_end, … — the page is cut off), sent as JSON text only when a filter is set. The
// reply is cut off too; data {"total","list"} as in the other lists is inferred.
func (s *CustomersService) List(ctx context.Context, opts *CustomerListOptions) ([]*Customer, int, error) {
	if opts == nil {
		opts = &CustomerListOptions{}
	}
	if err := checkPeriod("UpdatedTo", opts.UpdatedFrom, opts.UpdatedTo); err != nil {
		return nil, 0, err
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return nil, 0, err
	}
	p.Set("isPrivate", opts.Private)
	search := NewParams()
	setText(search, "namephone", strings.TrimSpace(opts.Search))
	setTime(search, "updated_at_start", opts.UpdatedFrom)
	setTime(search, "updated_at_end", opts.UpdatedTo)
	if search.Len() > 0 {
		b, err := search.MarshalJSON()
		if err != nil {
			return nil, 0, invalid("Search", "%v", err)
		}
		p.Set("data", string(b))
	}
	pg, err := fetchPage[*Customer](ctx, s.client, customerListEndpoint, p, customerPages)
	return pg.items, pg.total, err
}
