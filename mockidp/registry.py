"""The one registry of authorities: adding an authority is adding its package and one line here. The world file
gets a section per authority (its `world_type`), the engine builds each authority on its services, the app mounts
each under its prefix."""

from __future__ import annotations

from mockidp.authorities.avaya.authority import Avaya
from mockidp.authorities.b2c.authority import B2C
from mockidp.authorities.base import Authority
from mockidp.authorities.entra.authority import Entra
from mockidp.authorities.lumen.authority import Lumen
from mockidp.authorities.opengateway.authority import OpenGateway
from mockidp.authorities.pfw.authority import Pfw
from mockidp.authorities.workload.authority import Workload

AUTHORITIES: tuple[type[Authority], ...] = (Avaya, Entra, B2C, Lumen, Pfw, OpenGateway, Workload)
