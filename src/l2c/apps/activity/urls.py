from django.urls import path

from . import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/mark-read/", views.inbox_mark_read, name="inbox_mark_read"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("imports/", views.jobs, name="import_list"),
    path("followups/new/", views.followup_create, name="followup_create"),
    path("notes/new/", views.note_create, name="note_create"),
    path("todos/new/", views.todo_create, name="todo_create"),
    path("todos/<int:todo_id>/complete/", views.todo_complete, name="todo_complete"),
]
