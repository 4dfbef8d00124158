"""Who may enter a room and how: join links, app tokens, roles, the waiting room, removals, the join
page and every public /join/{secret} endpoint (app label "tokens"). Never imports webhooks."""
