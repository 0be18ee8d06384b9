package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
)

// BlacklistService covers platform section 8 企业防打扰: the account's do-not-call list. Tasks
// skip listed numbers (counted as blacklistCount in import results).
type BlacklistService service

// BlockedNumber is an entry of the do-not-call list.
type BlockedNumber struct {
	ID        int64     `json:"id"`
	Phone     string    `json:"phone"`
	Name      string    `json:"name"`
	Unit      string    `json:"unit"` // company name
	Address   string    `json:"address"`
	Remark    string    `json:"remark"`
	Days      int       `json:"term_value"` // how long the number is blocked; 0 for good
	Origin    string    `json:"is_auto"`    // e.g. "人工导入"
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"term_time"` // zero when blocked for good [inferred]

	Extra map[string]json.RawMessage `json:"-"` // marshalled inline
	Raw   json.RawMessage            `json:"-"` // not marshalled
}

var blockedNumberCodec = flex.NewCodec[BlockedNumber]()

// UnmarshalJSON decodes an entry tolerantly (term_value arrives as a string, name as null).
func (b *BlockedNumber) UnmarshalJSON(data []byte) error { return blockedNumberCodec.Decode(data, b) }

// MarshalJSON writes the entry with the platform's member names.
func (b BlockedNumber) MarshalJSON() ([]byte, error) { return blockedNumberCodec.Encode(&b) }

var blacklistListEndpoint = endpoint{method: http.MethodPost, path: "/api/BlackListListsDataapi", read: true, codeless: "datas"}

// blacklistPage is the reply of 8.1, which carries no code.
type blacklistPage struct {
	Total *int             `json:"total"`
	Datas []*BlockedNumber `json:"datas"`
}

func (p *blacklistPage) page() page[*BlockedNumber] { return newPage(p.Datas, p.Total) }

var blacklistPages = flex.NewCodec[blacklistPage](flex.Inline[BlockedNumber]())

// List returns the do-not-call list (a page of it with opts) and its length.
//
// Platform API 8.1 防打扰列表 (POST /api/BlackListListsDataapi): no documented parameters; with
// opts, pageIndex and pageSize are sent as on the other lists [inferred]. The reply is
// {"total":…,"datas":[…]} with no code.
func (s *BlacklistService) List(ctx context.Context, opts *ListOptions) ([]*BlockedNumber, int, error) {
	pg, err := s.page(ctx, opts)
	return pg.items, pg.total, err
}

// All returns every entry of the do-not-call list, from page opts.Page on, paged as
// RecordsService.All pages.
//
// Platform API 8.1 防打扰列表 (POST /api/BlackListListsDataapi); see List.
func (s *BlacklistService) All(ctx context.Context, opts *ListOptions) iter.Seq2[*BlockedNumber, error] {
	return pageAll(ctx, "do-not-call list", opts, s.page, func(b *BlockedNumber) string { return strconv.FormatInt(b.ID, 10) + "|" + b.Phone })
}

func (s *BlacklistService) page(ctx context.Context, opts *ListOptions) (page[*BlockedNumber], error) {
	p := NewParams()
	if opts != nil {
		if err := opts.set(p); err != nil {
			return page[*BlockedNumber]{}, err
		}
	}
	return fetchPage(ctx, s.client, blacklistListEndpoint, p, blacklistPages, (*blacklistPage).page)
}

// RemoveResult counts what a removal did; the platform does not say which item failed.
type RemoveResult struct {
	Removed int `json:"success"`
	Failed  int `json:"fail"`
}

var removeResultCodec = flex.NewCodec[RemoveResult]()

var blacklistDeleteEndpoint = endpoint{method: http.MethodPost, path: "/api/BlackListDelete"}

// Remove removes the entries with the given IDs (BlockedNumber.ID). When none was removed the
// result comes with an error matching ErrAllRejected.
//
// Platform API 8.2 防打扰删除 (POST /api/BlackListDelete) with ids_json, the ids as a list of
// strings (["88","12"]). The reply is {"code":0,"msg":"移除成功","success":…,"fail":…}.
func (s *BlacklistService) Remove(ctx context.Context, ids ...int64) (*RemoveResult, error) {
	list, err := idStrings(ids)
	if err != nil {
		return nil, err
	}
	return s.remove(ctx, NewParams().Set("ids_json", list), len(ids))
}

// RemovePhones removes the given numbers from the list, like Remove.
//
// Platform API 8.2 防打扰删除 (POST /api/BlackListDelete) with phone_str, the numbers joined by commas.
func (s *BlacklistService) RemovePhones(ctx context.Context, phones ...string) (*RemoveResult, error) {
	if len(phones) == 0 {
		return nil, invalid("phones", "at least one is required")
	}
	list := make([]string, len(phones))
	for i, ph := range phones {
		var err error
		if list[i], err = phoneNumber(fmt.Sprintf("phones[%d]", i), ph); err != nil {
			return nil, err
		}
	}
	return s.remove(ctx, NewParams().Set("phone_str", strings.Join(list, ",")), len(list))
}

func (s *BlacklistService) remove(ctx context.Context, p *Params, n int) (*RemoveResult, error) {
	var res RemoveResult
	if err := fetchBodyWith(ctx, s.client, blacklistDeleteEndpoint, p, removeResultCodec, &res); err != nil {
		return nil, err
	}
	return &res, allRejected(blacklistDeleteEndpoint, res.Removed, n)
}

// idStrings checks ids and returns them as the strings the platform lists them as.
func idStrings(ids []int64) ([]string, error) {
	if len(ids) == 0 {
		return nil, invalid("ids", "at least one is required")
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		if id <= 0 {
			return nil, invalid("ids", "%d is not an entry id", id)
		}
		out[i] = strconv.FormatInt(id, 10)
	}
	return out, nil
}

var blacklistDownloadEndpoint = endpoint{method: http.MethodGet, path: "/api/downloadBlacklistapi", read: true, stream: true}

// Download streams the list as an Excel file into w — only the entries ids when given, the whole
// list when ids is empty — and returns the bytes written. The transport retries only before the
// file starts, so bytes reach w at most once.
//
// Platform API 8.3 防打扰下载 (GET /api/downloadBlacklistapi): optional ids_json, sent as a list
// (ids_json[0]=…), the value 8.2 documents for the same name [inferred]. The reply is the file.
func (s *BlacklistService) Download(ctx context.Context, ids []int64, w io.Writer) (int64, error) {
	p := NewParams()
	if len(ids) > 0 {
		list, err := idStrings(ids)
		if err != nil {
			return 0, err
		}
		p.Set("ids_json", list)
	}
	return s.client.download(ctx, blacklistDownloadEndpoint, p, w)
}

// BlacklistAddRequest puts one number on the list, with what the platform keeps about it.
type BlacklistAddRequest struct {
	Phone   string // required
	Name    string
	Unit    string // company name
	Address string
	Remark  string
	Days    int // term_value: how long the number stays on the list, at most MaxBlockDays; 0 for good
}

// BlacklistImportRequest puts the numbers of an Excel workbook on the list.
type BlacklistImportRequest struct {
	File File // .xlsx or .xls
	Days int  // term_value: how long the numbers stay on the list, at most MaxBlockDays; 0 for good
}

// AddResult counts what an addition to the list did. The platform's reply is cut off on its page:
// success and fail counts are read when present [inferred].
type AddResult struct {
	Added  int `json:"success"`
	Failed int `json:"fail"`
}

var addResultCodec = flex.NewCodec[AddResult]()

var blacklistImportEndpoint = endpoint{method: http.MethodPost, path: "/api/importsExcelapi"}

// Add puts one number on the list for req.Days days (0: for good).
//
// Platform API 8.4 企业防打扰新增 (POST /api/importsExcelapi): phone, term_value, name, unit,
// address, remark (the page is cut off after these). When nothing was added the result comes
// with an error matching ErrAllRejected.
func (s *BlacklistService) Add(ctx context.Context, req *BlacklistAddRequest) (*AddResult, error) {
	if req == nil {
		return nil, invalid("BlacklistAddRequest", "is nil")
	}
	phone, err := phoneNumber("Phone", req.Phone)
	if err != nil {
		return nil, err
	}
	if err := checkDays(req.Days); err != nil {
		return nil, err
	}
	p := NewParams().Set("phone", phone).Set("term_value", req.Days)
	setText(p, "name", req.Name)
	setText(p, "unit", req.Unit)
	setText(p, "address", req.Address)
	setText(p, "remark", req.Remark)
	return s.add(ctx, p)
}

// MaxBlockDays is the longest term a number is put on the list for: a hundred years. A longer one
// is refused before sending, as a typo rather than a term (0 blocks for good).
const MaxBlockDays = 36500

func checkDays(days int) error {
	if days < 0 || days > MaxBlockDays {
		return invalid("Days", "must be 0 (for good) to %d days (a hundred years), got %d", MaxBlockDays, days)
	}
	return nil
}

// Import puts the numbers of req.File on the list for req.Days days (0: for good). The file is
// streamed (see File). When nothing was added the result comes with an error matching
// ErrAllRejected.
//
// Platform API 8.4 企业防打扰新增 (POST /api/importsExcelapi), multipart: term_value and upload.
func (s *BlacklistService) Import(ctx context.Context, req *BlacklistImportRequest) (*AddResult, error) {
	if req == nil {
		return nil, invalid("BlacklistImportRequest", "is nil")
	}
	file, err := uploadFile(&req.File, excelExts...)
	if err != nil {
		return nil, err
	}
	if err := checkDays(req.Days); err != nil {
		return nil, err
	}
	return s.add(ctx, NewParams().Set("term_value", req.Days).Set(uploadField, file))
}

func (s *BlacklistService) add(ctx context.Context, p *Params) (*AddResult, error) {
	var res AddResult
	if err := fetchBodyWith(ctx, s.client, blacklistImportEndpoint, p, addResultCodec, &res); err != nil {
		return nil, err
	}
	return &res, allRejected(blacklistImportEndpoint, res.Added, res.Added+res.Failed)
}
