package digelao

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTasksCreateFromExcel(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addExcelOfAsync", multipartResponder(t, &got, true, 200, readReply(t, "admin_excel_task.json")))
	task, err := c.Tasks.CreateFromExcel(context.Background(), &ExcelTaskRequest{Name: "十一月(回访)", ProjectSN: "projects|1",
		SeatSN: "SYSUSER|2", AutoStart: true, Recall: &Recall{Times: 2, Interval: 5 * time.Minute, Reasons: []string{"关机", "无人应答"}},
		File: File{Name: "contacts.xlsx", Content: strings.NewReader("workbook")}})
	require.NoError(t, err)
	assert.Equal(t, int64(1423), task.ID)
	assert.Equal(t, "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4", task.SN)
	fields := [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"project_sn", "projects|1"}, {"source", "十一月(回访)"},
		{"ai_user_sn", "SYSUSER|2"}, {"is_zidong", "on"}, {"is_auto_fail_recall", "1"}, {"total_fail_recall_times", "2"},
		{"fail_recall_interval", "5"}, {"fail_recall_of_reason", "关机,无人应答"}}
	signed := commonJSON + `,"project_sn":"projects|1","source":"\u5341\u4e00\u6708(\u56de\u8bbf)","ai_user_sn":"SYSUSER|2",` +
		`"is_zidong":"on","is_auto_fail_recall":"1","total_fail_recall_times":"2","fail_recall_interval":"5",` +
		`"fail_recall_of_reason":"\u5173\u673a,\u65e0\u4eba\u5e94\u7b54"}`
	assert.Equal(t, append(fields, [2]string{"url", urlOf(signed)}), got.fields)
	assert.Equal(t, "upload", got.fileField)
	assert.Equal(t, "contacts.xlsx", got.fileName)
	assert.Equal(t, "workbook", string(got.file))
}

func TestTasksCreateFromExcelAppends(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addExcelOfAsync", multipartResponder(t, &got, false, 200, readReply(t, "admin_excel_task.json")))
	_, err := c.Tasks.CreateFromExcel(context.Background(), &ExcelTaskRequest{Name: "t1", ProjectSN: "p", SeatSN: "s",
		AppendTo: "dial_task_main_sn|x", File: File{Name: "a.xlsx", Content: strings.NewReader("w")}})
	require.NoError(t, err)
	assert.Equal(t, [2]string{"dial_task_main_sn", "dial_task_main_sn|x"}, got.fields[len(got.fields)-2])
}

func TestTasksCreateBatch(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addBatch", multipartResponder(t, &got, true, 200, readReply(t, "admin_batch.json")))
	res, err := c.Tasks.CreateBatch(context.Background(), &BatchRequest{Name: "批次1", ProjectSN: "projects|1", SeatSN: "SYSUSER|2",
		SeatName: "seat", Days: 30, File: File{Name: "b.xls", Content: strings.NewReader("rows")}})
	require.NoError(t, err)
	signed := commonJSON + `,"project_sn":"projects|1","ai_user_sn":"SYSUSER|2","ai_user_name":"seat","batch_name":"\u6279\u6b211","term_value":"30"}`
	assert.Equal(t, [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"project_sn", "projects|1"}, {"ai_user_sn", "SYSUSER|2"},
		{"ai_user_name", "seat"}, {"batch_name", "批次1"}, {"term_value", "30"}, {"url", urlOf(signed)}}, got.fields)
	assert.Equal(t, "application/vnd.ms-excel", got.fileType)
	assert.Equal(t, int64(1424), res.ID)
	require.NotNil(t, res.Counts)
	assert.Equal(t, ImportCounts{Total: 3, Fail: 1, Blacklist: 1, Success: 1}, *res.Counts)
	assert.Equal(t, []RejectedRow{{"姓名": "王五", "电话": "123"}}, res.Rejected, "partial failure, row by row")
}

func TestTasksCreateBatchWhereEveryRowFailed(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/addBatch", multipartResponder(t, &got, false, 200, readReply(t, "admin_batch_none.json")))
	res, err := c.Tasks.CreateBatch(context.Background(), &BatchRequest{Name: "b", ProjectSN: "p", SeatSN: "s", SeatName: "n",
		File: File{Name: "b.xlsx", Content: strings.NewReader("rows")}})
	require.ErrorIs(t, err, ErrAllRejected)
	require.NotNil(t, res)
	assert.Equal(t, []RejectedRow{{"姓名": "", "电话": "abc"}}, res.Rejected)
}

func TestTasksUploadsRefuseBadInput(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	file := File{Name: "a.xlsx", Content: strings.NewReader("x")}
	for name, req := range map[string]*ExcelTaskRequest{
		"nil":         nil,
		"bad name":    {Name: "a b", ProjectSN: "p", SeatSN: "s", File: file},
		"no template": {Name: "a", SeatSN: "s", File: file},
		"no seat":     {Name: "a", ProjectSN: "p", File: file},
		"bad recall":  {Name: "a", ProjectSN: "p", SeatSN: "s", Recall: &Recall{Times: 1}, File: file},
		"no file":     {Name: "a", ProjectSN: "p", SeatSN: "s"},
	} {
		_, err := c.Tasks.CreateFromExcel(ctx, req)
		assertNothingSent(t, mt, err, name)
	}
	for name, req := range map[string]*BatchRequest{
		"nil":       nil,
		"no name":   {ProjectSN: "p", SeatSN: "s", SeatName: "n", File: file},
		"no seat":   {Name: "b", ProjectSN: "p", SeatName: "n", File: file},
		"no seatnm": {Name: "b", ProjectSN: "p", SeatSN: "s", File: file},
		"days":      {Name: "b", ProjectSN: "p", SeatSN: "s", SeatName: "n", Days: -1, File: file},
		"pdf":       {Name: "b", ProjectSN: "p", SeatSN: "s", SeatName: "n", File: File{Name: "a.pdf", Content: strings.NewReader("")}},
	} {
		_, err := c.Tasks.CreateBatch(ctx, req)
		assertNothingSent(t, mt, err, name)
	}
}
