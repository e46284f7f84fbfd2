from django.shortcuts import get_object_or_404, render

from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.core.models import Job


@requires("jobs.view")
def jobs(request):
    rows = Job.objects.visible_to(request.membership).select_related("created_by")
    return render(request, "core/jobs.html", {"page": paginate(request, rows)})


@requires("jobs.view")
def job_progress(request, pk: int):
    """The progress component: HTMX re-fetches it every second until the job has finished."""
    job = get_object_or_404(Job.objects.visible_to(request.membership), pk=pk)
    return render(request, "core/_job_progress.html", {"job": job})
