# Development jobspec of one space: raw_exec runs the in-repo Nextcloud stand-in with the same
# settings as the official image (POSTGRES_*, NEXTCLOUD_*), the same service registration, the
# same health check and the same data volume as production. No Docker engine is needed.
#
# Filled by package templates with double-square-bracket placeholders; {{ }} blocks are Nomad templates, rendered
# on the client. Secrets are read from the job's own Nomad Variable at [[ .VariablePath ]] into an
# env file under secrets/: they are never written in this file.
job [[ hcl .JobID ]] {
[[- if .Namespace ]]
  namespace = [[ hcl .Namespace ]]
[[- end ]]
[[- if .Region ]]
  region = [[ hcl .Region ]]
[[- end ]]
  type        = "service"
  datacenters = ["*"]

  meta {
    spaces_space_id   = "[[ .SpaceID ]]"
    spaces_generation = "[[ .Generation ]]"
    spaces_slug       = [[ hcl .Slug ]]
  }

  update {
    health_check      = "checks"
    min_healthy_time  = [[ hcl .MinHealthy ]]
    healthy_deadline  = "5m"
    progress_deadline = "10m"
    auto_revert       = false
  }

  group "nextcloud" {
    count = 1

    network {
      port "http" {}
    }

    # The space's data volume, as in production: a Nomad dynamic host volume the provisioner
    # creates before it registers the job. raw_exec has no filesystem isolation and cannot mount
    # it (no volume_mount below): this block makes Nomad place the job on the node holding the
    # volume and claim it for this one writer, and the stand-in is pointed at the volume's host
    # path, which the provisioner puts in the job's meta (spaces_volume_path).
    volume "data" {
      type            = "host"
      source          = [[ hcl .VolumeName ]]
      access_mode     = "single-node-single-writer"
      attachment_mode = "file-system"
    }

    # Only the task's own files (logs, rendered config) live in the allocation directory.
    ephemeral_disk {
      size = 150
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "2s"
      mode     = "delay"
    }

    service {
      name     = [[ hcl .JobID ]]
      port     = "http"
      provider = "nomad"
      tags = [
        "traefik.enable=true",
        [[ hcl (printf "traefik.http.routers.%s.rule=Host(`%s`)" .JobID .Domain) ]],
      ]

      check {
        name     = "status"
        type     = "http"
        path     = "/status.php"
        interval = "2s"
        timeout  = "2s"
        header {
          Host = [ [[ hcl .Domain ]] ]
        }
      }
    }

    task "nextcloud" {
      driver = "raw_exec"

      config {
        command = [[ hcl .StandinBin ]]
        args    = ["serve"]
      }

      env {
        POSTGRES_HOST             = [[ hcl (printf "%s:%d" .DBHost .DBPort) ]]
        POSTGRES_DB               = [[ hcl .DBName ]]
        POSTGRES_USER             = [[ hcl .DBUser ]]
        NEXTCLOUD_ADMIN_USER      = [[ hcl .AdminUser ]]
        NEXTCLOUD_TRUSTED_DOMAINS = [[ hcl .Domain ]]
        NEXTCLOUD_DATA_DIR        = "${NOMAD_META_spaces_volume_path}"
        NEXTCLOUD_CONFIG_DIR      = "${NOMAD_TASK_DIR}/config"
        NC_LISTEN                 = "${NOMAD_ADDR_http}"
        # A hundred stand-ins share two cores here: keep each one small.
        GOMAXPROCS = "1"
        GOMEMLIMIT = "48MiB"
      }

      template {
        destination = "secrets/nextcloud.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{ with nomadVar "[[ .VariablePath ]]" -}}
        POSTGRES_PASSWORD={{ .db_password }}
        NEXTCLOUD_ADMIN_PASSWORD={{ .admin_password }}
        NC_SERVERINFO_TOKEN={{ .serverinfo_token }}
        {{- end }}
        EOT
      }

      # The stand-in merges every config/*.config.json, as Nextcloud merges config/*.config.php.
      template {
        destination = "local/config/limits.config.json"
        change_mode = "noop"
        data        = <<-EOT
        {"one-click-instance": true, "one-click-instance.user-limit": [[ .UserLimit ]][[ if .Maintenance ]], "maintenance": true[[ end ]]}
        EOT
      }

      # Nextcloud's hashingCost at bcrypt's lowest, as Nextcloud's own test setup has it: here a
      # hundred stand-ins hash passwords on two cores. Production keeps Nextcloud's default.
      template {
        destination = "local/config/dev.config.json"
        change_mode = "noop"
        data        = <<-EOT
        {"hashingCost": 4}
        EOT
      }

      resources {
        cpu    = [[ .CPU ]]
        memory = [[ .MemoryMB ]]
      }
    }
  }
}
