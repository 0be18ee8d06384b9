package digelao

import (
	"encoding/json"

	"github.com/digelao-go/digelao/internal/flex"
)

// ImportCounts are the counters of an import (import_mark): pushed by 5.7.15 and returned by
// 5.7.4. The documentation names the counters but cuts off their descriptions; the meanings of
// the pinyin ones are inferred.
type ImportCounts struct {
	Total     int // totalCount 导入总数
	Success   int // successCount 成功
	Fail      int // failCount 失败
	Blacklist int // blacklistCount on the do-not-call list
	Repeat    int // repeatCount duplicates
	Filter    int // filterCount filtered out
	Invalid   int // shiCount [inferred: 失效, numbers judged invalid]
	Empty     int // kongCount [inferred: 空号, numbers that do not exist]
	Suspended int // tingjiCount [inferred: 停机, out of service]
	NotInDB   int // kuwuCount [inferred: 库无, unknown to the number database]
	Silent    int // chenmoCount [inferred: 沉默号, long-inactive numbers]
	Risky     int // fenxianCount [inferred: 风险号, risk-flagged numbers]
	OverLimit int // chaopinCount [inferred: 超频, called too often]
}

// importCountsWire is the wire form of ImportCounts.
type importCountsWire struct {
	Total     flex.Int `json:"totalCount"`
	Success   flex.Int `json:"successCount"`
	Fail      flex.Int `json:"failCount"`
	Blacklist flex.Int `json:"blacklistCount"`
	Repeat    flex.Int `json:"repeatCount"`
	Filter    flex.Int `json:"filterCount"`
	Invalid   flex.Int `json:"shiCount"`
	Empty     flex.Int `json:"kongCount"`
	Suspended flex.Int `json:"tingjiCount"`
	NotInDB   flex.Int `json:"kuwuCount"`
	Silent    flex.Int `json:"chenmoCount"`
	Risky     flex.Int `json:"fenxianCount"`
	OverLimit flex.Int `json:"chaopinCount"`
}

// UnmarshalJSON decodes the counters, each of which may arrive as a number or a string.
func (c *ImportCounts) UnmarshalJSON(b []byte) error {
	var w importCountsWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = ImportCounts{Total: int(w.Total), Success: int(w.Success), Fail: int(w.Fail),
		Blacklist: int(w.Blacklist), Repeat: int(w.Repeat), Filter: int(w.Filter), Invalid: int(w.Invalid),
		Empty: int(w.Empty), Suspended: int(w.Suspended), NotInDB: int(w.NotInDB), Silent: int(w.Silent),
		Risky: int(w.Risky), OverLimit: int(w.OverLimit)}
	return nil
}

// rejectedRows decodes import_fail_data: the rows an import refused, with their original
// (Chinese-keyed) columns, whose values may arrive as strings, numbers or null.
type rejectedRows []map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (r *rejectedRows) UnmarshalJSON(b []byte) error {
	var rows []map[string]flex.String
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	out := make(rejectedRows, 0, len(rows))
	for _, row := range rows {
		m := make(map[string]string, len(row))
		for k, v := range row {
			m[k] = string(v)
		}
		out = append(out, m)
	}
	*r = out
	return nil
}
