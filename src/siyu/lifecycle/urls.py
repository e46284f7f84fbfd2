from django.urls import path

from siyu.lifecycle import views

app_name = "lifecycle"
urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/move/", views.board_move, name="board_move"),
    path("board/customers/<int:pk>/stage/", views.customer_stage, name="customer_stage"),
    path("todos/", views.todos, name="todos"),
    path("todos/<int:pk>/done/", views.todo_done, name="todo_done"),
    path("todos/<int:pk>/cancel/", views.todo_cancel, name="todo_cancel"),
    path("loss/", views.alerts, name="alerts"),
    path("loss/<int:pk>/", views.loss_detail, name="loss_detail"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/<slug:kind>/", views.rule_new, name="rule_new"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/active/", views.rule_active, name="rule_active"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:pk>/backfill/", views.rule_backfill, name="rule_backfill"),
    path("reports/lifecycle/", views.reports, name="reports"),
    path("settings/lifecycle/", views.settings_page, name="settings"),
    path("settings/lifecycle/stages/<int:pk>/", views.stage_action, name="stage_action"),
]
