package digelao

// RecordsService covers platform section 6.x 客户管理: call records, dialogue and recordings.
type RecordsService service
