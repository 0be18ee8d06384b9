package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	ID        int64
	Phone     string
	Name      string
	Unit      string // company name
	Address   string
	Remark    string
	Days      int       // term_value: how long the number is blocked; 0 for good
	Origin    string    // is_auto, e.g. "人工导入"
	CreatedAt time.Time // created_at
	ExpiresAt time.Time // term_time; zero when blocked for good [inferred]
	Extra     map[string]json.RawMessage
	Raw       json.RawMessage
}

type blockedNumberWire struct {
	ID        flex.Int    `json:"id"`
	Phone     flex.String `json:"phone"`
	Name      flex.String `json:"name"`
	Unit      flex.String `json:"unit"`
	Address   flex.String `json:"address"`
	Remark    flex.String `json:"remark"`
	Days      flex.Int    `json:"term_value"`
	Origin    flex.String `json:"is_auto"`
	CreatedAt flex.Time   `json:"created_at"`
	ExpiresAt flex.Time   `json:"term_time"`
}

var blockedNumberKeys = jsonKeys(blockedNumberWire{})

// UnmarshalJSON decodes an entry tolerantly (term_value arrives as a string, name as null).
func (b *BlockedNumber) UnmarshalJSON(data []byte) error {
	var w blockedNumberWire
	extra, raw, err := decodeLoose(data, &w, blockedNumberKeys)
	if err != nil {
		return err
	}
	*b = BlockedNumber{ID: int64(w.ID), Phone: string(w.Phone), Name: string(w.Name), Unit: string(w.Unit),
		Address: string(w.Address), Remark: string(w.Remark), Days: int(w.Days), Origin: string(w.Origin),
		CreatedAt: w.CreatedAt.Time, ExpiresAt: w.ExpiresAt.Time, Extra: extra, Raw: raw}
	return nil
}

var blacklistListEndpoint = endpoint{method: http.MethodPost, path: "/api/BlackListListsDataapi", read: true, codeless: "datas"}

// List returns the do-not-call list (a page of it with opts) and its length.
//
// Platform API 8.1 防打扰列表 (POST /api/BlackListListsDataapi): no documented parameters; with
// opts, pageIndex and pageSize are sent as on the other lists [inferred]. The reply is
// {"total":…,"datas":[…]} with no code.
func (s *BlacklistService) List(ctx context.Context, opts *ListOptions) ([]*BlockedNumber, int, error) {
	p := NewParams()
	if opts != nil {
		if err := opts.set(p); err != nil {
			return nil, 0, err
		}
	}
	var w struct {
		Total flex.Int         `json:"total"`
		Datas []*BlockedNumber `json:"datas"`
	}
	if err := s.client.fetchBody(ctx, blacklistListEndpoint, p, &w); err != nil {
		return nil, 0, err
	}
	return w.Datas, int(w.Total), nil
}

// RemoveResult counts what a removal did; the platform does not say which item failed.
type RemoveResult struct {
	Removed int // success
	Failed  int // fail
}

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
	var w struct {
		Removed flex.Int `json:"success"`
		Failed  flex.Int `json:"fail"`
	}
	if err := s.client.fetchBody(ctx, blacklistDeleteEndpoint, p, &w); err != nil {
		return nil, err
	}
	res := &RemoveResult{Removed: int(w.Removed), Failed: int(w.Failed)}
	return res, allRejected(blacklistDeleteEndpoint, res.Removed, n)
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

// Download streams the list as an Excel file into w — only the entries ids when given — and
// returns the bytes written. The transport retries only before the file starts, so bytes reach w
// at most once.
//
// Platform API 8.3 防打扰下载 (GET /api/downloadBlacklistapi): optional ids_json, sent as a list
// (ids_json[0]=…), the value 8.2 documents for the same name [inferred]. The reply is the file.
func (s *BlacklistService) Download(ctx context.Context, w io.Writer, ids ...int64) (int64, error) {
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

// BlockEntry is a number to add to the list, with what the platform keeps about it.
type BlockEntry struct {
	Phone   string // required
	Name    string
	Unit    string // company name
	Address string
	Remark  string
}

// AddResult counts what an addition to the list did. The platform's reply is cut off on its page:
// success and fail counts are read when present [inferred].
type AddResult struct {
	Added  int
	Failed int
}

var blacklistImportEndpoint = endpoint{method: http.MethodPost, path: "/api/importsExcelapi"}

// Add puts one number on the list for days days (0: for good).
//
// Platform API 8.4 企业防打扰新增 (POST /api/importsExcelapi): phone, term_value, name, unit,
// address, remark (the page is cut off after these). When nothing was added the result comes
// with an error matching ErrAllRejected.
func (s *BlacklistService) Add(ctx context.Context, e *BlockEntry, days int) (*AddResult, error) {
	if e == nil {
		return nil, invalid("BlockEntry", "is nil")
	}
	phone, err := phoneNumber("Phone", e.Phone)
	if err != nil {
		return nil, err
	}
	if days < 0 {
		return nil, invalid("days", "must not be negative (0 blocks for good), got %d", days)
	}
	p := NewParams().Set("phone", phone).Set("term_value", days)
	setText(p, "name", e.Name)
	setText(p, "unit", e.Unit)
	setText(p, "address", e.Address)
	setText(p, "remark", e.Remark)
	return s.add(ctx, p)
}

// Import puts the numbers of an Excel workbook (.xlsx or .xls) on the list for days days (0: for
// good). The file is streamed (see File). When nothing was added the result comes with an error
// matching ErrAllRejected.
//
// Platform API 8.4 企业防打扰新增 (POST /api/importsExcelapi), multipart: term_value and upload.
func (s *BlacklistService) Import(ctx context.Context, f File, days int) (*AddResult, error) {
	file, err := uploadFile(&f, excelExts...)
	if err != nil {
		return nil, err
	}
	if days < 0 {
		return nil, invalid("days", "must not be negative (0 blocks for good), got %d", days)
	}
	return s.add(ctx, NewParams().Set("term_value", days).Set(uploadField, file))
}

func (s *BlacklistService) add(ctx context.Context, p *Params) (*AddResult, error) {
	var w struct {
		Added  flex.Int `json:"success"`
		Failed flex.Int `json:"fail"`
	}
	if err := s.client.fetchBody(ctx, blacklistImportEndpoint, p, &w); err != nil {
		return nil, err
	}
	res := &AddResult{Added: int(w.Added), Failed: int(w.Failed)}
	return res, allRejected(blacklistImportEndpoint, res.Added, res.Added+res.Failed)
}
