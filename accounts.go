package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// AccountsService covers platform section 2.1 子账号 (sub-accounts) and the role list of 3.x.
// Sub-accounts are the "AI seats": a SubAccount's UserSN is the seat a task is dialled by.
type AccountsService service

// SubAccount is a sub-account as 2.1.1 lists it. Every field is optional on the wire; Extra keeps
// the members this type has no field for (wangwang, sipname, ext, …).
type SubAccount struct {
	UserSN         string    `json:"user_sn"` // what task creation takes as the seat (SeatSN)
	UserName       string    `json:"user_name"`
	Contact        string    `json:"contact"` // 姓名: the person's name
	Job            string    `json:"job"`
	ParentSN       string    `json:"parent_sn"` // the main account
	OrganizationID int       `json:"organization_id"`
	MaxCalls       int       `json:"max_call_count"` // [inferred: the seat's concurrent AI calls]
	ProjectSN      string    `json:"project_sn"`     // its script templates; see TemplateSNs
	DisplayPhone   string    `json:"display_phone"`
	LastLoginAt    time.Time `json:"last_login_time"`
	ExpiresOn      time.Time `json:"expired"` // the account's expiry date

	Extra map[string]json.RawMessage `json:"-"` // members without a field above; marshalled inline
	Raw   json.RawMessage            `json:"-"` // the item as received; not marshalled
}

var subAccountCodec = flex.NewCodec[SubAccount]()

// UnmarshalJSON decodes a sub-account tolerantly.
func (a *SubAccount) UnmarshalJSON(b []byte) error { return subAccountCodec.Decode(b, a) }

// MarshalJSON writes the sub-account with the platform's member names.
func (a SubAccount) MarshalJSON() ([]byte, error) { return subAccountCodec.Encode(&a) }

// TemplateSNs returns the script templates of ProjectSN, which may list several separated by
// commas [inferred from client code].
func (a *SubAccount) TemplateSNs() []string {
	var out []string
	for f := range strings.SplitSeq(a.ProjectSN, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var subAccountListEndpoint = endpoint{method: http.MethodPost, path: "/api/aiUserDatasapi", read: true, codeless: "data"}

// subAccountPage is the reply of 2.1.1, which carries no code.
type subAccountPage struct {
	Total *int          `json:"total"`
	Data  []*SubAccount `json:"data"`
}

func (p *subAccountPage) page() page[*SubAccount] { return newPage(p.Data, p.Total) }

var subAccountPages = flex.NewCodec[subAccountPage](flex.Inline[SubAccount]())

// SubAccountListOptions filters Accounts.List.
type SubAccountListOptions struct {
	ListOptions        // PerPage 0: the platform's default, 5
	Name        string // user_name: sub-accounts with this name [inferred: part of the name]
}

// List returns a page of the account's sub-accounts and the number that match.
//
// Platform API 2.1.1 子账号列表 (POST /api/aiUserDatasapi): pageIndex, pageSize (default 5),
// user_name. The reply is {"total":…,"data":[…]} with no code; one copy of the page shows a
// paginator object ({"current_page":…,"data":[…]}) instead, which decodes the same way. When a
// reply has no total, the count of the items is returned [inferred].
func (s *AccountsService) List(ctx context.Context, opts *SubAccountListOptions) ([]*SubAccount, int, error) {
	pg, err := s.page(ctx, opts)
	if !pg.counted {
		pg.total = len(pg.items) // [inferred] a paginator reply without total
	}
	return pg.items, pg.total, err
}

// All returns every sub-account that matches opts, from page opts.Page on, paged as
// RecordsService.All pages.
//
// Platform API 2.1.1 子账号列表 (POST /api/aiUserDatasapi); see List.
func (s *AccountsService) All(ctx context.Context, opts *SubAccountListOptions) iter.Seq2[*SubAccount, error] {
	o := SubAccountListOptions{}
	if opts != nil {
		o = *opts
	}
	return pageAll(ctx, "sub-accounts", &o.ListOptions, func(ctx context.Context, lo *ListOptions) (page[*SubAccount], error) {
		o.ListOptions = *lo
		return s.page(ctx, &o)
	}, func(a *SubAccount) string { return a.UserSN })
}

func (s *AccountsService) page(ctx context.Context, opts *SubAccountListOptions) (page[*SubAccount], error) {
	if opts == nil {
		opts = &SubAccountListOptions{}
	}
	p := NewParams()
	if err := opts.set(p); err != nil {
		return page[*SubAccount]{}, err
	}
	setText(p, "user_name", opts.Name)
	return fetchPage(ctx, s.client, subAccountListEndpoint, p, subAccountPages, (*subAccountPage).page)
}

// SubAccountRequest is what 2.1.2 creates and 2.1.4 changes. The pages mark every field required.
type SubAccountRequest struct {
	UserName       string // user_name: the login name; identifies the sub-account to change in Update
	Contact        string // contact: the person's name
	Password       string // sent twice, as password and re_password
	OrganizationID int    // organization_id: the organisation it belongs to
	RoleID         int    // role_id: an ID from Roles
	MaxCalls       int    // max_call_count [inferred: concurrent AI calls]
}

func (req *SubAccountRequest) params() (*Params, error) {
	switch {
	case req == nil:
		return nil, invalid("SubAccountRequest", "is nil")
	case strings.TrimSpace(req.UserName) == "":
		return nil, invalid("UserName", "is required")
	case strings.TrimSpace(req.Contact) == "":
		return nil, invalid("Contact", "is required")
	case req.Password == "":
		return nil, invalid("Password", "is required")
	case req.OrganizationID <= 0:
		return nil, invalid("OrganizationID", "is required (a positive organisation id)")
	case req.RoleID <= 0:
		return nil, invalid("RoleID", "is required (an id from Roles)")
	case req.MaxCalls <= 0:
		return nil, invalid("MaxCalls", "must be at least 1")
	}
	return NewParams().Set("user_name", req.UserName).Set("contact", req.Contact).Set("password", req.Password).
		Set("re_password", req.Password).Set("organization_id", req.OrganizationID).Set("role_id", req.RoleID).
		Set("max_call_count", req.MaxCalls), nil
}

var (
	subAccountCreateEndpoint = endpoint{method: http.MethodPost, path: "/api/aiUserSaveapi"}
	subAccountUpdateEndpoint = endpoint{method: http.MethodPost, path: "/api/aiUserUpdateapi"}
)

// CreatedSubAccount is the reply to Accounts.Create. The reply is not documented: UserSN is read
// when its data carries a user_sn [inferred], and Extra and Raw keep the rest as received.
type CreatedSubAccount struct {
	UserSN string `json:"user_sn"` // the new sub-account's user_sn; "" when the reply names none

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var createdSubAccountCodec = flex.NewCodec[CreatedSubAccount]()

// UnmarshalJSON decodes the reply tolerantly.
func (a *CreatedSubAccount) UnmarshalJSON(b []byte) error { return createdSubAccountCodec.Decode(b, a) }

// MarshalJSON writes the reply with the platform's member names.
func (a CreatedSubAccount) MarshalJSON() ([]byte, error) { return createdSubAccountCodec.Encode(&a) }

// Create adds a sub-account and returns what the reply says of it: its user_sn when the reply
// carries one.
//
// Platform API 2.1.2 子账号新增 (POST /api/aiUserSaveapi): user_name, contact, password,
// re_password, organization_id, role_id, max_call_count — the page is cut off after these. Its
// reply is not shown; a user_sn in data is read when present [inferred].
func (s *AccountsService) Create(ctx context.Context, req *SubAccountRequest) (*CreatedSubAccount, error) {
	p, err := req.params()
	if err != nil {
		return nil, err
	}
	var out CreatedSubAccount
	if err := fetchWith(ctx, s.client, subAccountCreateEndpoint, p, createdSubAccountCodec, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update changes the sub-account named req.UserName.
//
// Platform API 2.1.4 子账号修改 (POST /api/aiUserUpdateapi): the same fields as 2.1.2, all marked
// required. Its reply is not shown; success is code 0 [inferred].
func (s *AccountsService) Update(ctx context.Context, req *SubAccountRequest) error {
	p, err := req.params()
	if err != nil {
		return err
	}
	return s.client.fetch(ctx, subAccountUpdateEndpoint, p, nil)
}

// DeleteResult counts what Delete did. The platform gives counts only, not which name failed.
type DeleteResult struct {
	Deleted    int `json:"success_num"`
	NotAllowed int `json:"not_allowed"` // sub-accounts the platform refused to delete [inferred: still in use]
	Failed     int `json:"fail_num"`
}

var (
	subAccountDeleteEndpoint = endpoint{method: http.MethodPost, path: "/api/aiUserDeleteapi"}
	deleteResultCodec        = flex.NewCodec[DeleteResult]()
)

// Delete deletes the sub-accounts with the given user names. When none was deleted the result
// comes with an error matching ErrAllRejected.
//
// Platform API 2.1.3 子账号删除 (POST /api/aiUserDeleteapi): pkey "user_name" and
// entityInstanceId, the list of names. The reply is {"rst":"200","success_num",…,"not_allowed",
// …,"fail_num",…}.
func (s *AccountsService) Delete(ctx context.Context, userNames ...string) (*DeleteResult, error) {
	if len(userNames) == 0 {
		return nil, invalid("userNames", "at least one is required")
	}
	for i, n := range userNames {
		if strings.TrimSpace(n) == "" {
			return nil, invalid(fmt.Sprintf("userNames[%d]", i), "is empty")
		}
	}
	p := NewParams().Set("pkey", "user_name").Set("entityInstanceId", userNames)
	var res DeleteResult
	if err := fetchBodyWith(ctx, s.client, subAccountDeleteEndpoint, p, deleteResultCodec, &res); err != nil {
		return nil, err
	}
	return &res, allRejected(subAccountDeleteEndpoint, res.Deleted, len(userNames))
}

// Role is a role a sub-account can have (its ID is SubAccountRequest.RoleID). Extra keeps the
// members without a field here and Raw the role as received.
type Role struct {
	ID   int    `json:"id"`
	Name string `json:"name"`

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var roleCodec = flex.NewCodec[Role]()

// UnmarshalJSON decodes a role tolerantly.
func (r *Role) UnmarshalJSON(b []byte) error { return roleCodec.Decode(b, r) }

// MarshalJSON writes the role with the platform's member names.
func (r Role) MarshalJSON() ([]byte, error) { return roleCodec.Encode(&r) }

var rolesEndpoint = endpoint{method: http.MethodPost, path: "/api/roleGetapi", read: true}

// Roles lists the roles, whose IDs SubAccountRequest.RoleID takes.
//
// /api/roleGetapi is only named by 2.1.2 ("role_id: 角色列表 /api/roleGetapi 的 id"); its page
// (3.x) was not retrievable. POST and a data list of {"id","name",…} are inferred.
func (s *AccountsService) Roles(ctx context.Context) ([]*Role, error) {
	return fetchList(ctx, s.client, rolesEndpoint, NewParams(), roleCodec)
}
