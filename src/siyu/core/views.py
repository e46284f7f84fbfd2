from django.shortcuts import get_object_or_404, render

from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.core.jobs import result_link
from siyu.core.models import Job


@requires("jobs.view")
def jobs(request):
    """Every job the viewer may see (their own first choice: ``?mine=1``), each finished export with its download."""
    rows = Job.objects.visible_to(request.membership).select_related("created_by")
    mine = request.GET.get("mine") == "1"
    if mine:
        rows = rows.filter(created_by=request.user)
    page = paginate(request, rows)
    for job in page:
        job.result_url = result_link(job, request.user)
    return render(request, "core/jobs.html", {"page": page, "mine": mine})


@requires("jobs.view")
def job_progress(request, pk: int):
    """The progress component: HTMX re-fetches it every second until the job has finished."""
    job = get_object_or_404(Job.objects.visible_to(request.membership), pk=pk)
    return render(request, "core/_job_progress.html", {"job": job})
