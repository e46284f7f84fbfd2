from django.core.paginator import Paginator

PER_PAGE = 25


def paginate(request, queryset, per_page: int = PER_PAGE):
    """One page of ``queryset``; a page number out of range or not a number gives the nearest valid page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
