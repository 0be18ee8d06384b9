package digelao

// TemplatesService covers platform section 7.x 话术管理: script templates.
type TemplatesService service
