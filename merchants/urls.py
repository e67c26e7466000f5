from . import apply_urls, console_urls

app_name = "merchants"
# Applicant and merchant-dashboard pages, and the branch console's merchant pages.
urlpatterns = [*apply_urls.urlpatterns, *console_urls.urlpatterns]
