"""The background-jobs page lists every job the viewer may see, export jobs included, with the download of a
finished export for the member who started it (and for nobody else)."""

from django.urls import reverse

from siyu.core.models import Job
from siyu.customers import bulk
from tests.factories import client_for


def test_export_jobs_are_listed_with_their_download_for_their_starter_only(world, django_capture_on_commit_callbacks):
    manager = client_for(world.east_manager)
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(reverse("customers:bulk"), {"action": "export", "scope": "filter"})
    job = Job.objects.for_org(world.org).get(kind=bulk.EXPORT)
    assert job.status == Job.Status.SUCCEEDED, job.error
    download = reverse("customers:export_download", args=[job.pk])

    page = manager.get(reverse("core:jobs")).content.decode()
    assert job.title in page and f'href="{download}"' in page
    assert manager.get(download).status_code == 200

    hq_page = client_for(world.admin).get(reverse("core:jobs")).content.decode()
    assert job.title in hq_page and download not in hq_page  # HQ sees the job, not the manager's file
    mine = client_for(world.admin).get(reverse("core:jobs"), {"mine": "1"}).content.decode()
    assert job.title not in mine
