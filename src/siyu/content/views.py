"""Console pages: the brand's sensitive words (HQ) and the compliance check anyone may paste a text into."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.content import compliance, services
from siyu.content.forms import CheckForm, ImportForm, WordForm
from siyu.content.highlight import highlight
from siyu.content.models import SensitiveWord


@requires("content.manage")
@require_http_methods(["GET", "POST"])
def words(request):
    """List, add and import the brand's own sensitive words."""
    viewer = request.membership
    op = request.POST.get("op") if request.method == "POST" else None
    form = WordForm(request.POST if op == "add" else None)
    import_form = ImportForm(request.POST if op == "import" else None)
    bound = form if op == "add" else import_form if op == "import" else None
    if bound is not None and bound.is_valid():
        try:
            if op == "add":
                services.add_word(viewer.org, **bound.cleaned_data, by=viewer)
                messages.success(request, _("已添加敏感词“%(word)s”。") % {"word": bound.cleaned_data["word"].strip()})
            else:
                result = services.import_words(viewer.org, **bound.cleaned_data, by=viewer)
                messages.success(request, _("已导入 %(added)d 个敏感词，%(skipped)d 个已存在。")
                                 % {"added": result.added, "skipped": result.skipped})
        except ValidationError as error:
            attach_service_errors(bound, error)
        else:
            return redirect("content:words")
    rows = SensitiveWord.objects.visible_to(viewer).select_related("created_by")
    query = request.GET.get("q", "").strip()
    if query:
        rows = rows.filter(word__icontains=query)
    context = {"form": form, "import_form": import_form, "page": paginate(request, rows), "query": query}
    return render(request, "content/words.html", context, status=400 if bound is not None else 200)


@requires("content.manage")
@require_POST
def word_remove(request, pk: int):
    row = get_object_or_404(SensitiveWord.objects.visible_to(request.membership), pk=pk)
    services.remove_word(row, by=request.membership)
    messages.success(request, _("已删除敏感词“%(word)s”。") % {"word": row.word})
    return redirect("content:words")


@requires("content.check")
@require_http_methods(["GET", "POST"])
def check(request):
    """Paste a text, see it with the findings highlighted (HTMX swaps the result in place)."""
    form = CheckForm(request.POST or None)
    result = None
    if form.is_valid():
        text = form.cleaned_data["text"]
        findings = compliance.check(text, org=request.membership.org)
        result = {"text": highlight(text, findings), "findings": findings,
                  "blocked": any(f.blocks for f in findings)}
    if request.htmx:
        # htmx swaps only 2xx answers: the form's errors come back in the swapped part, as a 200.
        return render(request, "content/_check.html", {"form": form, "result": result})
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "content/check.html", {"form": form, "result": result}, status=status)
