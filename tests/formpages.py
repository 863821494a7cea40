"""The pages with forms (issue 13) and what they show: a resource with a history, a link with
a level change, a contributor's pending resource, and a workshop with a participant's pending
addition, all in api-a, made through the API once per run. Their names carry markup, which
must stay text on every page. The accessibility and the security tests visit these pages."""

import uuid
from dataclasses import dataclass

import httpx

from tests.api.test_workshops import new_workshop
from tests.apiworld import World, feature

XSS = "<img src=x onerror=alert(1)>"


@dataclass(frozen=True)
class FormWorld:
    resource: str
    link: str
    workshop: str
    name: str  # the resource's name, markup included

    def signed_in_pages(self) -> list[str]:
        """Every page with a form an editor opens (the admin's tokens aside)."""
        r, lk, ws = self.resource, self.link, self.workshop
        return ["/territories/api-a/resources/new", f"/resources/{r}/edit",
                f"/resources/{r}/delete", f"/resources/{r}/history", f"/resources/{r}",
                "/territories/api-a/links/new", f"/links/{lk}", f"/links/{lk}/edit",
                "/moderation?territory=api-a", "/workshops/new", f"/workshops/{ws}/moderation"]


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def build(base: str, world: World) -> FormWorld:
    editor, contributor = World.auth(world.editor), World.auth(world.contributor)
    tag = uuid.uuid4().hex[:6]
    name = f"Épicerie du port {tag} {XSS}"
    with httpx.Client(base_url=base, timeout=30) as api:
        rid = _created(api.post("/api/resources", headers=editor, json=feature(
            name=name, kind="social_grocery", opening_hours="Tu,Th 14:00-18:00",
            products=["vegetables"])))
        etag = api.get(f"/api/resources/{rid}").headers["etag"]
        changed = api.patch(f"/api/resources/{rid}", headers=editor | {"If-Match": etag},
                            json={"properties": {"address": "Quai de la Résistance"}})
        assert changed.status_code == 200, changed.text
        other = _created(api.post("/api/resources", headers=editor, json=feature(
            name=f"Restos du quai {tag} {XSS}", kind="food_aid", point=(3.70, 43.40))))
        lid = _created(api.post("/api/links", headers=editor, json={
            "source": rid, "target": other, "category": "aid_associations", "level": 2,
            "territory": "api-a", "description": f"Dons d'invendus {XSS}"}))
        etag = api.get(f"/api/links/{lid}").headers["etag"]
        raised = api.patch(f"/api/links/{lid}", headers=editor | {"If-Match": etag},
                           json={"level": 3, "level_note": f"commandes groupées {XSS}"})
        assert raised.status_code == 200, raised.text
        _created(api.post("/api/resources", headers=contributor, json=feature(
            name=f"Jardin des voisins {tag} {XSS}", point=(3.69, 43.41))))
        code = new_workshop(api, world)["code"]
        joined = api.post(f"/api/workshops/{code}/join", json={"pseudonym": "Lou"})
        participant = World.auth(joined.json()["token"])
        _created(api.post("/api/resources", headers=participant, json=feature(
            name=f"Potager de Lou {tag} {XSS}", point=(3.695, 43.405))))
    return FormWorld(resource=rid, link=lid, workshop=code, name=name)
