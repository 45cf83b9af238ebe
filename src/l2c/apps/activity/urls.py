from django.urls import path

from . import import_views, views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/mark-read/", views.inbox_mark_read, name="inbox_mark_read"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("imports/", import_views.import_list, name="import_list"),
    path("followups/new/", views.followup_create, name="followup_create"),
    path("notes/new/", views.note_create, name="note_create"),
    path("todos/new/", views.todo_create, name="todo_create"),
    path("todos/<int:todo_id>/complete/", views.todo_complete, name="todo_complete"),
    path("imports/new/<slug:object_type>/", import_views.import_start, name="import_start"),
    path("imports/<int:import_id>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:import_id>/errors.csv", import_views.import_errors, name="import_errors"),
    path("imports/template/<slug:object_type>.<str:fmt>", import_views.import_template, name="import_template"),
    path("export/", import_views.export, name="export"),
]
