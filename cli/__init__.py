"""``licensing``: the command line of the metered licensing service (operator, tenant
administrator, local stack, and a simulated fleet of LoadMasters). Entry point: ``cli.main:cli``."""
