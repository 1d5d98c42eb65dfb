<?xml version="1.0" encoding="UTF-8"?>
<!-- A status event -> the portal's progress record (CapNhatTienDoHoSoMC fields). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:h="urn:lienthong:hoso:1" exclude-result-prefixes="h">
  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>
  <xsl:param name="nguoiXuLy" select="'lienthong'"/>
  <xsl:template match="/h:TrangThaiHoSo">
    <TienDoHoSo>
      <MaHoSo><xsl:value-of select="h:MaHoSo"/></MaHoSo>
      <TrangThai><xsl:value-of select="h:TrangThai"/></TrangThai>
      <ThoiDiemXuLy><xsl:value-of select="h:ThoiDiem"/></ThoiDiemXuLy>
      <NguoiXuLy><xsl:value-of select="$nguoiXuLy"/></NguoiXuLy>
      <NoiDungXuLy><xsl:value-of select="h:NoiDung"/></NoiDungXuLy>
    </TienDoHoSo>
  </xsl:template>
</xsl:stylesheet>
