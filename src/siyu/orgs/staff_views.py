"""Console pages for staff (WeCom members) and for handing their customers and groups to someone else."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from siyu.console import forms as console_forms
from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.customers import transfers as transfer_services
from siyu.customers.models import Customer, GroupTransferBatch, Relation, Transfer
from siyu.groups.models import CustomerGroup
from siyu.orgs.models import Staff, Store

MANUAL, RULE = "manual", "rule"


def _count(queryset, field: str):
    """A correlated COUNT(*) per staff row; a subquery, so two counts never multiply each other's joins."""
    counted = queryset.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _with_counts(rows, viewer):
    """Customers and groups per staff member, as far as ``viewer`` may see them."""
    active = Relation.objects.visible_to(viewer).filter(status=Relation.Status.ACTIVE)
    groups = CustomerGroup.objects.visible_to(viewer).filter(status=CustomerGroup.Status.ACTIVE)
    return rows.annotate(customer_count=_count(active, "staff"), group_count=_count(groups, "owner"))


# -- forms ------------------------------------------------------------------------------------------------
class StaffFilterForm(console_forms.Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": gettext_lazy("姓名或账号")}))
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False,
                               choices=[("", gettext_lazy("全部"))] + list(Staff.Status.choices))
    store = forms.ModelChoiceField(label=pgettext_lazy("singular", "门店"), queryset=Store.objects.none(), required=False,
                                   empty_label=gettext_lazy("全部"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.visible_to(viewer)


class ReassignForm(console_forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("分配方式"), widget=forms.RadioSelect, initial=MANUAL,
        choices=[(MANUAL, gettext_lazy("指定接替员工")), (RULE, gettext_lazy("按规则分配（同门店、最少客户优先）"))],
    )
    takeover = forms.ModelChoiceField(label=gettext_lazy("接替员工"), queryset=Staff.objects.none(), required=False,
                                      help_text=gettext_lazy("只列出你管理范围内、在职且已开通客户联系的员工。"))
    success_msg = forms.CharField(
        label=gettext_lazy("转接提示语"), required=False, max_length=transfer_services.SUCCESS_MSG_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("在职转接时企业微信发给客户的消息，最多 200 字；留空使用企业微信的默认提示。"),
    )
    select_all = forms.BooleanField(label=gettext_lazy("全部待分配客户"), required=False)
    customers = forms.ModelMultipleChoiceField(label=gettext_lazy("客户"), queryset=Customer.objects.none(), required=False,
                                               widget=forms.MultipleHiddenInput)

    def __init__(self, *args, viewer, handover: Staff, waiting, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = transfer_services.kind_for(handover)
        self.waiting = waiting
        self.fields["takeover"].queryset = transfer_services.takeover_candidates(
            handover.org, viewer=viewer, exclude=handover
        ).select_related("store")
        self.fields["customers"].queryset = waiting
        if self.kind == Transfer.Kind.RESIGNED:
            del self.fields["success_msg"]

    def clean(self):
        data = super().clean()
        if data.get("mode") == MANUAL and not data.get("takeover"):
            self.add_error("takeover", _("请选择接替员工。"))
        chosen = list(self.waiting.order_by("pk")) if data.get("select_all") else list(data.get("customers") or [])
        if not chosen and "customers" not in self.errors:
            self.add_error("customers", _("请至少选择一位客户，或勾选“全部待分配客户”。"))
        data["chosen"] = chosen
        return data


class GroupTransferForm(console_forms.Form):
    new_owner = forms.ModelChoiceField(label=gettext_lazy("新群主"), queryset=Staff.objects.none())
    chats = forms.ModelMultipleChoiceField(label=gettext_lazy("客户群"), queryset=CustomerGroup.objects.none(),
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, viewer, owner: Staff, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_owner"].queryset = transfer_services.takeover_candidates(owner.org, viewer=viewer, exclude=owner)
        self.fields["chats"].queryset = groups


class TransferFilterForm(console_forms.Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": gettext_lazy("客户或员工")}))
    kind = forms.ChoiceField(label=gettext_lazy("类型"), required=False,
                             choices=[("", gettext_lazy("全部"))] + list(Transfer.Kind.choices))
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False,
                               choices=[("", gettext_lazy("全部"))] + list(Transfer.Status.choices))


# -- pages ------------------------------------------------------------------------------------------------
@requires("staff.view")
def staff_list(request):
    viewer = request.membership
    filters = StaffFilterForm(request.GET or None, viewer=viewer)
    rows = Staff.objects.visible_to(viewer).select_related("store")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            rows = rows.filter(Q(name__icontains=data["q"]) | Q(userid__icontains=data["q"]) | Q(alias__icontains=data["q"]))
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["store"]:
            rows = rows.filter(store=data["store"])
    rows = _with_counts(rows, viewer).order_by("userid")
    return render(request, "orgs/staff_list.html", {"filters": filters, "page": paginate(request, rows)})


def _detail_context(request, staff: Staff) -> dict:
    viewer = request.membership
    org = viewer.org
    waiting = Customer.objects.visible_to(viewer).filter(
        pk__in=transfer_services.waiting_customers(org, staff).values("pk")
    )
    added = Relation.objects.visible_to(viewer).filter(customer=OuterRef("pk"), staff=staff).values("added_at")[:1]
    groups = CustomerGroup.objects.visible_to(viewer).filter(owner=staff, status=CustomerGroup.Status.ACTIVE)
    waiting_groups = groups.filter(pk__in=transfer_services.waiting_groups(org, staff).values("pk"))
    history = transfer_services.history(org, viewer=viewer, staff=staff)
    return {
        "staff": staff,
        "kind": transfer_services.kind_for(staff),
        "waiting": waiting,
        "waiting_count": waiting.count(),
        "customers": paginate(request, waiting.annotate(added_at=Subquery(added)).order_by("-added_at", "pk"), per_page=50),
        "groups": groups.order_by("name", "pk"),
        "waiting_groups": waiting_groups,
        "group_batches": GroupTransferBatch.objects.visible_to(viewer).filter(Q(previous_owner=staff) | Q(new_owner=staff))
        .select_related("new_owner", "previous_owner")[:20],
        "history": history[:100],
        "history_count": history.count(),
        "can_manage": viewer.can("transfers.manage"),
    }


@requires("staff.view")
def staff_detail(request, pk: int):
    """A staff member: their customers still waiting for a new owner, their groups, transfer history, and
    (for transfers.manage) the reassignment form with a preview of the rule's plan."""
    viewer = request.membership
    staff = get_object_or_404(Staff.objects.visible_to(viewer).select_related("store"), pk=pk)
    context = _detail_context(request, staff)
    form = plan = None
    status = 200
    if context["can_manage"]:
        form = ReassignForm(
            request.POST if request.method == "POST" else None, viewer=viewer, handover=staff, waiting=context["waiting"]
        )
        context["group_form"] = GroupTransferForm(viewer=viewer, owner=staff, groups=context["waiting_groups"])
    elif request.method == "POST":
        viewer.require("transfers.manage")
    if request.method == "POST" and form is not None:
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["mode"] == RULE and request.POST.get("action") == "preview":
                    plan = transfer_services.plan_by_rule(viewer.org, staff, by=viewer, customers=data["chosen"])
                elif data["mode"] == RULE:
                    plan = transfer_services.reassign_by_rule(
                        viewer.org, staff, by=viewer, customers=data["chosen"], success_msg=data.get("success_msg", ""),
                    )
                    messages.success(request, _("已按规则提交 %(n)d 位客户的转接，分给 %(m)d 位员工。") % {
                        "n": plan.total, "m": sum(1 for a in plan.assignments if a.customers)})
                    return redirect("orgs:staff_detail", pk=staff.pk)
                else:
                    done = transfer_services.reassign_customers(
                        viewer.org, handover=staff, takeover=data["takeover"], customers=data["chosen"], by=viewer,
                        success_msg=data.get("success_msg", ""),
                    )
                    messages.success(request, _("已提交 %(n)d 位客户转给 %(name)s，企业微信将在客户确认或 24 小时后完成接替。") % {
                        "n": len(done), "name": data["takeover"]})
                    return redirect("orgs:staff_detail", pk=staff.pk)
            except ValidationError as error:
                attach_service_errors(form, error)
        if form.errors:
            status = 400
    context.update(form=form, plan=plan, chosen_ids=_chosen_ids(form))
    return render(request, "orgs/staff_detail.html", context, status=status)


def _chosen_ids(form) -> set[str]:
    if form is None or not form.is_bound:
        return set()
    return set(form.data.getlist("customers"))


@require_POST
@requires("transfers.manage")
def staff_groups_transfer(request, pk: int):
    viewer = request.membership
    staff = get_object_or_404(Staff.objects.visible_to(viewer).select_related("store"), pk=pk)
    context = _detail_context(request, staff)
    form = GroupTransferForm(request.POST, viewer=viewer, owner=staff, groups=context["waiting_groups"])
    if form.is_valid():
        try:
            transfer_services.transfer_groups(
                viewer.org, chats=form.cleaned_data["chats"], new_owner=form.cleaned_data["new_owner"], by=viewer
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已提交 %(n)d 个客户群转给 %(name)s。") % {
                "n": len(form.cleaned_data["chats"]), "name": form.cleaned_data["new_owner"]})
            return redirect("orgs:staff_detail", pk=staff.pk)
    reassign = ReassignForm(viewer=viewer, handover=staff, waiting=context["waiting"])
    context.update(form=reassign, group_form=form, plan=None, chosen_ids=set())
    return render(request, "orgs/staff_detail.html", context, status=400)


@requires("transfers.manage")
def transfers(request):
    """离职继承: departed staff who still have customers or groups, and the history of every transfer."""
    viewer = request.membership
    org = viewer.org
    open_transfers = Transfer.objects.visible_to(viewer).filter(status__in=transfer_services.OPEN)
    departed = _with_counts(Staff.objects.visible_to(viewer).filter(status=Staff.Status.DEPARTED), viewer).annotate(
        in_progress=_count(open_transfers, "handover")
    ).select_related("store").order_by("-departed_at", "userid")
    departed = [s for s in departed if s.customer_count or s.group_count]
    for staff in departed:
        staff.waiting_count = max(staff.customer_count - staff.in_progress, 0)
    filters = TransferFilterForm(request.GET or None)
    rows = transfer_services.history(org, viewer=viewer)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            q = data["q"]
            rows = rows.filter(
                Q(customer__name__icontains=q) | Q(customer__external_userid=q) | Q(handover__name__icontains=q)
                | Q(handover__userid__icontains=q) | Q(takeover__name__icontains=q) | Q(takeover__userid__icontains=q)
            )
        if data["kind"]:
            rows = rows.filter(kind=data["kind"])
        if data["status"]:
            rows = rows.filter(status=data["status"])
    return render(request, "orgs/transfers.html", {"departed": departed, "filters": filters, "page": paginate(request, rows)})
