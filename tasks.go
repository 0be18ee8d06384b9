package digelao

// TasksService covers platform section 5.x 任务管理: task lists, operations, creation and imports.
type TasksService service
