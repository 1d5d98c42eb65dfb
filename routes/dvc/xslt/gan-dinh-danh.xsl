<?xml version="1.0" encoding="UTF-8"?>
<!-- A dossier whose applicant's identity was verified (oidc-verify): it is said to be from
     an account the national identity system authenticated, and the applicant's personal
     identification number is among its identifiers (added when it is not there). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:h="urn:lienthong:hoso:1">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:param name="soDinhDanh"/>
  <xsl:template match="@*|node()">
    <xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy>
  </xsl:template>
  <xsl:template match="h:TaiKhoanDuocXacThucVoiVNeID"/>
  <xsl:template match="h:DinhDanhCHS">
    <xsl:copy>
      <xsl:apply-templates select="@*|node()"/>
      <xsl:if test="not(h:DinhDanh[h:LoaiDinhDanh = '1' and h:SoDinhDanh = $soDinhDanh])">
        <h:DinhDanh><h:LoaiDinhDanh>1</h:LoaiDinhDanh><h:SoDinhDanh><xsl:value-of select="$soDinhDanh"/></h:SoDinhDanh></h:DinhDanh>
      </xsl:if>
    </xsl:copy>
  </xsl:template>
  <xsl:template match="/h:HoSo">
    <xsl:copy>
      <xsl:apply-templates select="@*|node()"/>
      <h:TaiKhoanDuocXacThucVoiVNeID>1</h:TaiKhoanDuocXacThucVoiVNeID>
      <xsl:if test="not(h:DinhDanhCHS)">
        <h:DinhDanhCHS><h:DinhDanh><h:LoaiDinhDanh>1</h:LoaiDinhDanh><h:SoDinhDanh><xsl:value-of select="$soDinhDanh"/></h:SoDinhDanh></h:DinhDanh></h:DinhDanhCHS>
      </xsl:if>
    </xsl:copy>
  </xsl:template>
</xsl:stylesheet>
