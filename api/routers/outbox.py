"""The service worker of the pages that write (issue 14), served from the root so that its
scope covers /workshops/ and the edit pages (a worker under /static/ could only control
/static/). The file itself is static/sw.js; the outbox is static/js/terreau-outbox.js."""

from fastapi import APIRouter
from fastapi.responses import FileResponse

from carto import ROOT

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/sw.js")
def service_worker() -> FileResponse:
    # no-cache: the browser checks the worker at each visit, so a new release takes over
    return FileResponse(ROOT / "static" / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})
