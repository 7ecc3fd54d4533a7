# The control plane for development and tests: the same job as spaces.nomad.hcl (its services,
# checks, spread, update and secrets), with the spaces binary run by raw_exec instead of an image
# on docker, and its spaces on the dev jobspec (the Nextcloud stand-in). The multi-node test runs
# it on a cluster of two nodes (jobs/workers/multinode_test.go):
#
#   nomad job run -var spaces_bin=$PWD/.bin/spaces -var standin_bin=$PWD/.bin/nextcloud-standin \
#     -var nomad_addr=$NOMAD_ADDR templates/spaces-dev.nomad.hcl
#
# Secrets are read from the job's own Nomad Variable, nomad/jobs/spaces, as in production.

variable "spaces_bin" {
  type        = string
  description = "absolute path of the spaces binary on every node"
}

variable "standin_bin" {
  type        = string
  description = "absolute path of the nextcloud-standin binary on every node (SPACES_STANDIN_BIN)"
}

variable "nomad_addr" {
  type        = string
  description = "the Nomad HTTP API the instances drive (NOMAD_ADDR)"
}

variable "public_url" {
  type    = string
  default = "http://spaces.localhost"
}

variable "base_domain" {
  type    = string
  default = "spaces.localhost"
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "count" {
  type    = number
  default = 2
}

job "spaces" {
  type        = "service"
  datacenters = var.datacenters

  meta {
    spaces_role = "control-plane"
  }

  # One instance at a time: the other keeps serving while the new one migrates and starts.
  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "serve" {
    count = var.count

    # On different nodes when there are several: losing a node leaves one instance serving
    # while Nomad starts the lost one again elsewhere.
    spread {
      attribute = "${node.unique.id}"
    }

    network {
      port "http" {}
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    service {
      name     = "spaces"
      port     = "http"
      provider = "nomad"
      tags = [
        "traefik.enable=true",
        "traefik.http.routers.spaces.rule=Host(`${regex_replace(var.public_url, "^https?://([^/:]+).*$", "$1")}`)",
      ]

      # Ready: the database answers and every migration is applied. The router sends traffic
      # only to ready instances.
      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "5s"
        timeout  = "2s"
      }

      # Alive: an instance whose database stops answering for long is restarted.
      check {
        name     = "alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "3s"
        check_restart {
          limit = 6
          grace = "1m"
        }
      }
    }

    task "serve" {
      driver = "raw_exec"

      # spaces serve stops gracefully: 20 s for running jobs, then 15 s for cancelled ones.
      kill_signal  = "SIGTERM"
      kill_timeout = "40s"

      config {
        command = var.spaces_bin
        args    = ["serve"]
      }

      identity {
        env = true
      }

      env {
        SPACES_LISTEN         = "${NOMAD_ADDR_http}"
        SPACES_PUBLIC_URL     = var.public_url
        SPACES_BASE_DOMAIN    = var.base_domain
        SPACES_NOMAD_TEMPLATE = "dev"
        SPACES_STANDIN_BIN    = var.standin_bin
        SPACES_EXPORT_DIR     = "${NOMAD_TASK_DIR}/exports"
        NOMAD_ADDR            = var.nomad_addr
        GOMAXPROCS            = "1"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/spaces.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{ with nomadVar "nomad/jobs/spaces" -}}
        SPACES_DATABASE_URL={{ .database_url }}
        SPACES_TENANT_DATABASE_URL={{ .tenant_database_url }}
        SPACES_SECRET_KEY={{ .secret_key }}
        SPACES_SMTP_URL={{ .smtp_url }}
        {{- end }}
        EOT
      }

      resources {
        cpu    = 100
        memory = 256
      }
    }
  }
}
